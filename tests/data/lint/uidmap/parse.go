// Fixture written for picf's lint tests: uid_map parsing, safe and not.
package uidmap

import "fmt"

const mapFile = "/proc/self/gid_map"

func risky(line string) (int, error) {
	var inside, outside, count int
	_, err := fmt.Sscanf(line, "%d %d %d", &inside, &outside, &count) // want: sscanf-int-overflow
	return inside + count, err
}

func safe(line string) (int64, error) {
	var inside, outside, count int64
	_, err := fmt.Sscanf(line, "%d %d %d", &inside, &outside, &count)
	return inside + count, err
}

func words(line string) (string, error) {
	var name string
	n := 0
	_, err := fmt.Sscanf(line, "%s", &name)
	return name, err
}
