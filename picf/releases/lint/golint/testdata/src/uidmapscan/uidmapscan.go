// Package uidmapscan reads /proc/self/uid_map, whose 4294967295 does not fit a 32-bit int.
package uidmapscan

import (
	"fmt"
	"os"
)

func Read() (int, int64, error) {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return 0, 0, err
	}
	var inside, size int
	var outside int64
	_, err = fmt.Sscanf(string(data), "%d %d %d", &inside, &outside, &size) // want `sscanf: fmt.Sscanf on inside \(int\)`
	return inside, outside, err
}

func Wide(line string) (int64, uint32) {
	var a int64
	var b uint32
	fmt.Sscan(line, &a, &b)
	return a, b
}
