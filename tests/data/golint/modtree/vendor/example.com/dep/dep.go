// Package dep is a vendored dependency: its types are in the tree, so their sizes are known.
package dep

// Header is 12 bytes on 32-bit ARM.
type Header struct {
	a, b int32
	c    int16
}
