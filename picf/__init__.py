"""picf: a small Cloud Foundry-style platform on a stack of Raspberry Pis."""

__version__ = "0.1.0"
