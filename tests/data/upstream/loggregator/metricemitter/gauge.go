// Fixture written for picf's tests: the shape of loggregator's metricemitter.Gauge (value at offset 28 on arm).
package metricemitter

import (
	"math"
	"sync/atomic"
)

// Gauge holds the latest value of a measurement.
type Gauge struct {
	Tagged
	name     string
	unit     string
	sourceID string
	value    uint64
}

// Set records a new value.
func (g *Gauge) Set(n float64) {
	atomic.StoreUint64(&g.value, math.Float64bits(n)) // want: atomic64-misaligned
}

// Get returns the latest value.
func (g *Gauge) Get() float64 {
	return math.Float64frombits(atomic.LoadUint64(&g.value)) // want: atomic64-misaligned
}
