"""The ARM patch engine: the `catalog/` of patches (validated data), applied to a tree by `patching` through its
`transforms`."""
