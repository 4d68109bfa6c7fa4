// Fixture written for picf's lint tests: aligned look-alikes, traps and real hazards.
package atomics

import (
	"sync"
	"sync/atomic"

	"example.com/elsewhere"
)

// Aligned: two interfaces (8 bytes each on arm) put hits at offset 16.
type Aligned struct {
	reader interface{ Read() }
	writer interface{ Write() }
	hits   uint64
}

// NotAtomic has a misaligned uint64 that no atomic call touches.
type NotAtomic struct {
	flag  bool
	total uint64
}

// Inner starts with its counter; Outer embeds it after a bool.
type Inner struct {
	count uint64
	name  string
}

// Outer embeds Inner at offset 4: Inner.count lands at offset 4.
type Outer struct {
	ready bool
	Inner
}

// ByPointer reaches Inner through a pointer: a separate allocation, aligned.
type ByPointer struct {
	ready bool
	inner *Inner
}

// Nested holds Inner by value after a mutex (8 bytes): aligned.
type Nested struct {
	mu    sync.Mutex
	inner Inner
}

// Arrayed puts a uint64 after [3]uint32 (12 bytes).
type Arrayed struct {
	slots [3]uint32
	ops   uint64
}

// Typed uses the Go 1.19 types, aligned by the compiler.
type Typed struct {
	flag bool
	n    atomic.Uint64
}

// Foreign has a field of a type from another package: its size is unknown here.
type Foreign struct {
	peer  elsewhere.Thing
	bytes uint64
}

// Stats is used from a plain function through a parameter: hits at offset 4.
type Stats struct {
	open bool
	hits int64
}

var total uint64

func (a *Aligned) Hit() { atomic.AddUint64(&a.hits, 1) }

func (n *NotAtomic) Add() { n.total++ }

func (o *Outer) Bump() { atomic.AddUint64(&o.count, 1) } // want: atomic64-misaligned

func (b *ByPointer) Bump() { atomic.AddUint64(&b.inner.count, 1) }

func (n *Nested) Bump() { atomic.AddUint64(&n.inner.count, 1) }

func (a *Arrayed) Op() uint64 { return atomic.LoadUint64(&a.ops) } // want: atomic64-misaligned

func (t *Typed) Add() { t.n.Add(1) }

func (f *Foreign) Add(n uint64) { atomic.AddUint64(&f.bytes, n) } // want: atomic64-unproven

func bump(s *Stats) { atomic.AddInt64(&s.hits, 1) } // want: atomic64-misaligned

func local() int64 {
	s := &Stats{open: true}
	return atomic.LoadInt64(&s.hits) // want: atomic64-misaligned
}

func global() { atomic.AddUint64(&total, 1) }

func swap(o *Outer) bool { return atomic.CompareAndSwapUint64(&o.Inner.count, 0, 1) } // want: atomic64-misaligned
