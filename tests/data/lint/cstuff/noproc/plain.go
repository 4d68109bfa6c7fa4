// Fixture written for picf's lint tests: %d into int where no uid_map is read is fine.
package noproc

import "fmt"

func port(s string) (int, error) {
	var p int
	_, err := fmt.Sscanf(s, "%d", &p)
	return p, err
}
