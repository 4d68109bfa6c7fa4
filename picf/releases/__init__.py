"""BOSH releases by concept: reading one (`read`), rendering its templates (`render`), compiling it (`build`),
patching it for ARM (`patch`) and linting a tree (`lint`); shared by them, the compiled-package `store`, safe and
deterministic `archive`s and the `sandbox` untrusted steps run in; `scaffold`, a new release to start from."""
