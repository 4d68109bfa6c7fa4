// Package metrics counts what logfwd sees.
package metrics

import "sync/atomic"

// Counter counts events between reports; Add is called from every connection's goroutine.
type Counter struct {
	name   string
	labels []string
	count  uint64 // updated atomically: offset 20 on 32-bit ARM, which sync/atomic cannot use there
}

// NewCounter makes a counter called name.
func NewCounter(name string, labels ...string) *Counter {
	return &Counter{name: name, labels: labels}
}

// Add counts n more events.
func (c *Counter) Add(n uint64) {
	atomic.AddUint64(&c.count, n)
}

// Value is the count so far.
func (c *Counter) Value() uint64 {
	return atomic.LoadUint64(&c.count)
}

// Name is what the counter counts.
func (c *Counter) Name() string { return c.name }
