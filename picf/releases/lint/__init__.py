"""The 32-bit ARM lint: a tree's hazards (`tree`), found in C by the target's compiler (`preprocessor`,
`c_syscalls`), in seccomp profiles (`seccomp`) and in Go by picf's analyzer (`golint/`, run by `gotypes` with the
Go the tree declares, `declared_go`), mapped to the catalog's patches (`go_findings`)."""
