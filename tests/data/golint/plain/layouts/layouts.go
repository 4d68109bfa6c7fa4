// Package layouts holds 64-bit atomics in every place a struct can put them.
package layouts

import (
	"sync/atomic"

	"example.com/notinthetree/metrics"
)

// Counter keeps its atomic word after an int32: offset 4 on 32-bit ARM.
type Counter struct {
	flags int32
	n     int64
}

func (c *Counter) Inc() { atomic.AddInt64(&c.n, 1) } // want "atomic64-misaligned: atomic.AddInt64 on Counter.n at offset 4"

func Bump(c *Counter) int64 { return atomic.LoadInt64(&c.n) } // want "atomic64-misaligned: atomic.LoadInt64 on Counter.n at offset 4"

func Local() {
	var c Counter
	atomic.StoreInt64(&c.n, 2) // want "atomic64-misaligned: atomic.StoreInt64 on Counter.n at offset 4"
}

// First keeps its atomic word first: aligned, whatever comes after (even a type from outside the tree).
type First struct {
	hits  uint64
	stats metrics.Registry
	name  string
}

func (f *First) Hit() { atomic.AddUint64(&f.hits, 1) }

// Unknown has a type from outside the tree before its atomic word: nothing can be proven.
type Unknown struct {
	reg  metrics.Registry
	hits uint64
}

func (u *Unknown) Hit() { atomic.AddUint64(&u.hits, 1) } // want "atomic64-unproven: atomic.AddUint64 on Unknown.hits: .*metrics.Registry"

// Bytes is a named slice: 12 bytes on 32-bit ARM, not 4.
type Bytes []byte

type AfterSlice struct {
	buf   Bytes
	total uint64
}

func (a *AfterSlice) Add(n uint64) { atomic.AddUint64(&a.total, n) } // want "atomic64-misaligned: .*AfterSlice.total at offset 12"

// TwoInterfaces: 16 bytes of interfaces, then an aligned int64.
type TwoInterfaces struct {
	a, b  interface{}
	count int64
}

func (t *TwoInterfaces) Inc() { atomic.AddInt64(&t.count, 1) }

// Inner is aligned on its own; what holds it decides.
type Inner struct {
	n int64
}

type Embeds struct {
	flag int32
	Inner
}

func (e *Embeds) Inc() { atomic.AddInt64(&e.n, 1) } // want "atomic64-misaligned: .*Embeds.Inner.n at offset 4"

type Nests struct {
	flag  int32
	inner Inner
}

func (n *Nests) Inc() { atomic.AddInt64(&n.inner.n, 1) } // want "atomic64-misaligned: .*Nests.inner.n at offset 4"

// EmbedsPointer holds a pointer to an Inner of its own allocation: aligned.
type EmbedsPointer struct {
	flag int32
	*Inner
}

func (e *EmbedsPointer) Inc() { atomic.AddInt64(&e.n, 1) }

// Pair is 12 bytes: in an array, every other element's word is misaligned.
type Pair struct {
	n int64
	k int32
}

type Table struct {
	items [4]Pair
}

func (t *Table) First() { atomic.AddInt64(&t.items[0].n, 1) }

func (t *Table) Any(i int) { atomic.AddInt64(&t.items[i].n, 1) } // want "atomic64-misaligned: .*Pair.n at offset 12"

func Slice(ps []Pair, i int) { atomic.AddInt64(&ps[i].n, 1) } // want "atomic64-misaligned: .*Pair.n at offset 12"

// Box is generic: where its word sits depends on T.
type Box[T any] struct {
	v T
	n uint64
}

func (b *Box[T]) Inc() { atomic.AddUint64(&b.n, 1) } // want "atomic64-unproven: .*Box.n: .*type parameter T"

func Boxes() {
	var small Box[int32]
	atomic.AddUint64(&small.n, 1) // want "atomic64-misaligned: .*Box.n at offset 4"
	var wide Box[int64]
	atomic.AddUint64(&wide.n, 1)
}

// Typed uses sync/atomic's own types: always aligned, and they align what follows them too (Go >= 1.19).
type Typed struct {
	flag  int32
	hits  atomic.Int64
	after uint64
}

func (t *Typed) Inc() {
	t.hits.Add(1)
	atomic.AddUint64(&t.after, 1)
}

// Global: a package variable is aligned.
var global uint64

func Global() { atomic.AddUint64(&global, 1) }
