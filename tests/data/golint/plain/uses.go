// Package plain imports its own packages by path: the lint infers the tree's import path from this.
package plain

import (
	"example.com/plaintree/kernel"
	"example.com/plaintree/layouts"
	"example.com/plaintree/uidmap"
)

var _ = kernel.Times
var _ = layouts.Local
var _ = uidmap.Wide
