// Fixture written for picf's tests: the 2018 shape of go-diodes' ManyToOne (writeIndex at offset 12 on arm).
package diodes

import (
	"sync/atomic"
	"unsafe"
)

// ManyToOne is a diode for many writers and one reader.
type ManyToOne struct {
	buffer     []unsafe.Pointer
	writeIndex uint64 // bumped by every writer
	readIndex  uint64
	alerter    Alerter
}

// NewManyToOne makes a diode with room for size entries.
func NewManyToOne(size int, alerter Alerter) *ManyToOne {
	d := &ManyToOne{
		buffer:  make([]unsafe.Pointer, size),
		alerter: alerter,
	}
	d.writeIndex = ^uint64(0)
	return d
}

// Set stores data, overwriting the oldest entry when full.
func (d *ManyToOne) Set(data GenericDataType) {
	writeIndex := atomic.AddUint64(&d.writeIndex, 1) // want: atomic64-misaligned
	idx := writeIndex % uint64(len(d.buffer))
	atomic.StorePointer(&d.buffer[idx], unsafe.Pointer(data))
}

// TryNext reads the next entry; only the single reader touches readIndex, so no atomics.
func (d *ManyToOne) TryNext() (GenericDataType, bool) {
	idx := d.readIndex % uint64(len(d.buffer))
	value := atomic.SwapPointer(&d.buffer[idx], nil)
	if value == nil {
		return nil, false
	}
	d.readIndex++
	return GenericDataType(value), true
}
