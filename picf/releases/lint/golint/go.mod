module picf.dev/golint

go 1.19
