// Fixture written for picf's tests: the 2018 shape of idmapper's uid_map parsing (int overflow on arm).
package idmapper

import (
	"bufio"
	"fmt"
	"os"
)

// ParseError is a uid_map line that did not parse.
type ParseError struct {
	Line string
	Err  error
}

func (e ParseError) Error() string { return fmt.Sprintf("parsing %q: %s", e.Line, e.Err) }

// MaxValidUid is the largest uid mapped into this namespace.
func MaxValidUid() (int, error) { return maxValid("/proc/self/uid_map") }

// MaxValidGid is the largest gid mapped into this namespace.
func MaxValidGid() (int, error) { return maxValid("/proc/self/gid_map") }

func maxValid(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	max := 0
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		var container, host, size int
		if _, err := fmt.Sscanf(scanner.Text(), "%d %d %d", &container, &host, &size); err != nil { // want: sscanf-int-overflow
			return 0, ParseError{Line: scanner.Text(), Err: err}
		}
		if last := container + size - 1; last > max {
			max = last
		}
	}
	return max, nil
}

// MustGetMaxValidUID panics when uid_map does not parse.
func MustGetMaxValidUID() int {
	max, err := MaxValidUid()
	if err != nil {
		panic(err)
	}
	return max
}
