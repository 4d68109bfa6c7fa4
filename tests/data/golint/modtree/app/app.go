// Package app uses a vendored type before a 64-bit atomic word.
package app

import (
	"sync/atomic"

	"example.com/dep"
)

type Stream struct {
	hdr  dep.Header
	sent uint64
}

func (s *Stream) Sent() { atomic.AddUint64(&s.sent, 1) } // want "atomic64-misaligned: .*Stream.sent at offset 12"
