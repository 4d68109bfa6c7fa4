// Fixture written for picf's tests: the shape of loggregator's metricemitter.Counter (delta at offset 20 on arm).
package metricemitter

import "sync/atomic"

// Counter counts events between emissions.
type Counter struct {
	Tagged
	name     string
	sourceID string
	delta    uint64
}

// Increment adds c to the counter.
func (c *Counter) Increment(n uint64) {
	atomic.AddUint64(&c.delta, n) // want: atomic64-misaligned
}

// GetDelta returns and resets the count.
func (c *Counter) GetDelta() uint64 {
	return atomic.SwapUint64(&c.delta, 0) // want: atomic64-misaligned
}
