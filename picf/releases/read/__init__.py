"""Reading a BOSH release into one `Release` model: from a repository (`repository`, its `blobs` and package
`globbing`) or a tarball (`tarball`), opened either way by `source`; `fingerprint` as bosh-cli computes it."""
