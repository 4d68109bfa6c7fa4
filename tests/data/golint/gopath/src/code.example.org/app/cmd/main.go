// Command cmd uses a type of its vendored lib before a 64-bit atomic word.
package main

import (
	"sync/atomic"

	"code.example.org/lib"
)

type tagged struct {
	tag   lib.Tag
	count uint64
}

func main() {
	t := &tagged{}
	atomic.AddUint64(&t.count, 1) // want "atomic64-misaligned: .*tagged.count at offset 12"
}
