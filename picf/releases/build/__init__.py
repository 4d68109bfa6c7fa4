"""Compiling a release for a node's arch: `builder` builds each package once, `compile` runs a packaging script
in the sandbox, `toolchains` provides the Go it asks for (behind `go-wrapper.sh`)."""
