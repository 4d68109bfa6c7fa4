// Package noidmap scans into an int but reads no uid_map: not this pass's concern.
package noidmap

import "fmt"

func Parse(s string) (n int) {
	fmt.Sscanf(s, "%d", &n)
	return n
}
