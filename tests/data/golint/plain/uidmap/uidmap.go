// Package uidmap reads the kernel's user namespace map, whose size column is 4294967295.
package uidmap

import (
	"bufio"
	"fmt"
	"os"
)

const path = "/proc/self/uid_map"

func Narrow() (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var container, host, size int
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fmt.Sscanf(scanner.Text(), "%d %d %d", &container, &host, &size) // want "sscanf-int-overflow"
	}
	return size, nil
}

func Wide(line string) (uint, error) {
	var container, host, size uint
	_, err := fmt.Sscanf(line, "%d %d %d", &container, &host, &size)
	return size, err
}
