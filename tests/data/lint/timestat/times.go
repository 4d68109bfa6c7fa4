// Fixture written for picf's lint tests: Timespec and Statfs_t shapes on 32-bit ARM.
package timestat

import "syscall"

const untypedOmit = (1 << 30) - 2
const typedNow int64 = 1<<30 - 1

const (
	BtrfsMagic = int64(0x9123683E)
	XfsMagic   = 0x58465342
)

func stamps(sec int64) []syscall.Timespec {
	return []syscall.Timespec{
		{Sec: 0, Nsec: untypedOmit},
		syscall.Timespec{Sec: 0, Nsec: untypedOmit},
		syscall.Timespec{Sec: int64(sec), Nsec: 0}, // want: timespec-int64
		syscall.Timespec{Sec: 0, Nsec: typedNow}, // want: timespec-int64
	}
}

func tv() syscall.Timeval {
	return syscall.Timeval{Usec: typedNow} // want: timespec-int64
}

func isBtrfs(path string) bool {
	var st syscall.Statfs_t
	_ = syscall.Statfs(path, &st)
	if int64(uint32(st.Type)) == BtrfsMagic {
		return true
	}
	return int64(st.Type) == BtrfsMagic // want: statfs-type-sign-extension
}

func isXfs(st *syscall.Statfs_t, want int64) bool {
	return st.Type == want // want: statfs-type-int64
}

func isXfsUntyped(st *syscall.Statfs_t) bool {
	return st.Type == XfsMagic
}
