// Package atomicalign puts 64-bit atomic words where 32-bit ARM aligns them to 4 bytes, and where it does not.
package atomicalign

import (
	"sync/atomic"

	"example.com/notinthetree/metrics"
)

type Counter struct {
	flags int32
	n     int64
}

func (c *Counter) Inc() { atomic.AddInt64(&c.n, 1) } // want `atomic64 misaligned: atomic.AddInt64 on Counter.n at offset 4$`

func Load(c *Counter) int64 { return atomic.LoadInt64(&c.n) } // want "atomic64 misaligned: atomic.LoadInt64 on Counter.n at offset 4"

func Local() {
	var c Counter
	atomic.StoreInt64(&c.n, 2) // want "atomic64 misaligned: atomic.StoreInt64 on Counter.n"
}

// A pointer passed in: its allocation decides, not this call.
func Through(n *int64) { atomic.AddInt64(n, 1) }

type First struct {
	hits  uint64
	reg   metrics.Registry
	flags int32
}

func (f *First) Hit() { atomic.AddUint64(&f.hits, 1) }

type Unknown struct {
	reg  metrics.Registry
	hits uint64
}

func (u *Unknown) Hit() { atomic.AddUint64(&u.hits, 1) } // want `atomic64 unproven: atomic.AddUint64 on Unknown.hits, which depends on metrics.Registry`

type Inner struct{ n int64 }

type Nests struct {
	flag  int32
	inner Inner
}

func (n *Nests) Inc() { atomic.AddInt64(&n.inner.n, 1) } // want "atomic64 misaligned: .* on Nests.inner.n at offset 4"

type EmbedsPointer struct {
	flag int32
	*Inner
}

func (e *EmbedsPointer) Inc() { atomic.AddInt64(&e.n, 1) }

type Pair struct {
	a int64
	b int32
}

var pairs [4]Pair

func Element(i int) { atomic.AddInt64(&pairs[i].a, 1) } // want `atomic64 misaligned: .*Pair.a at offset 12 \(an element of an array or slice`

func Fixed() { atomic.AddInt64(&pairs[2].a, 1) } // element 2 of 12-byte elements: offset 24

type Typed struct {
	flag int32
	n    atomic.Int64 // aligned by the compiler since Go 1.19
}

func (t *Typed) Inc() { t.n.Add(1) }

func Generic[T any](v *struct {
	x T
	n int64
}) {
	atomic.AddInt64(&v.n, 1) // want `atomic64 unproven: .*, which depends on type parameter T`
}
