// Fixture written for picf's tests.
package diodes

import "unsafe"

// GenericDataType is what a diode carries.
type GenericDataType unsafe.Pointer

// Alerter hears about dropped entries.
type Alerter interface {
	Alert(missed int)
}
