// Package kernel talks to the kernel with the types that are 32 bits on linux/arm.
package kernel

import (
	"syscall"
	"unsafe"
)

const omitTyped int64 = (1 << 30) - 2
const omitUntyped = (1 << 30) - 2

func Times() []syscall.Timespec {
	return []syscall.Timespec{
		{Sec: 0, Nsec: omitTyped}, // want "timespec-int64: .*Nsec"
		{Sec: 0, Nsec: omitUntyped},
	}
}

func Assign(ts *syscall.Timespec, v int64) {
	ts.Nsec = v // want "timespec-int64: .*Nsec"
}

const btrfs = int64(0x9123683E)

func code(name string) (int64, error) { return btrfs, nil }

func IsBtrfs(path string) bool {
	var st syscall.Statfs_t
	if syscall.Statfs(path, &st) != nil {
		return false
	}
	want, _ := code("btrfs")
	return st.Type == want // want "statfs-type-int64"
}

func SignExtends(st *syscall.Statfs_t) bool {
	return int64(st.Type) == btrfs // want "statfs-type-sign-extension"
}

func Unsigned(st *syscall.Statfs_t) bool {
	return int64(uint32(st.Type)) == btrfs
}

// Handled checks the width, as careful code does: nothing to report.
func Handled(st *syscall.Statfs_t) int64 {
	t := int64(st.Type)
	if unsafe.Sizeof(st.Type) == 4 {
		t = int64(uint32(st.Type))
	}
	return t
}
