// Package lib is vendored inside app, GOPATH style.
package lib

// Tag is 12 bytes on 32-bit ARM.
type Tag struct {
	name string
	ok   bool
}
