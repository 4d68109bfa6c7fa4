// Fixture written for picf's tests: the 2018 shape of grootfs' utimensat call (typed int64 in a Timespec).
package unpacker

import (
	"syscall"
	"time"
	"unsafe"
)

const utimeOmit int64 = ((1 << 30) - 2)

func changeModTime(path string, modTime time.Time) error {
	pathBytes, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	ts := []syscall.Timespec{
		syscall.Timespec{Sec: 0, Nsec: utimeOmit}, // want: timespec-int64
		syscall.NsecToTimespec(modTime.UnixNano()),
	}
	_, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, 0, uintptr(unsafe.Pointer(pathBytes)),
		uintptr(unsafe.Pointer(&ts[0])), 0x100, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
