module example.com/logfwd

go 1.19
