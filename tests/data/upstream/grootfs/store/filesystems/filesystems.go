// Fixture written for picf's tests: the 2018 shape of grootfs' filesystem type check.
package filesystems

import (
	"fmt"
	"syscall"
)

const (
	XfsType   = int64(0x58465342)
	BtrfsType = int64(0x9123683E)
)

// CheckFSPath fails unless path is on a filesystem of type fsType.
func CheckFSPath(path string, fsType int64) error {
	var statfs syscall.Statfs_t
	if err := syscall.Statfs(path, &statfs); err != nil {
		return fmt.Errorf("statfs %s: %w", path, err)
	}
	if statfs.Type != fsType { // want: statfs-type-int64
		return fmt.Errorf("%s is not on the expected filesystem", path)
	}
	return nil
}
