// Package statfs reads Statfs_t.Type, an int32 on linux/arm.
package statfs

import (
	"syscall"
	"unsafe"
)

const btrfsMagic int64 = 0x9123683E

func Compare(st *syscall.Statfs_t) bool {
	return st.Type == btrfsMagic // want `statfs int64-compare: st.Type \(btrfsMagic is int64\)`
}

func Extend(st syscall.Statfs_t) bool {
	return int64(st.Type) == 0x9123683E // want `statfs sign-extend: st.Type \(int64\(st.Type\)\)`
}

func Unsigned(st syscall.Statfs_t) bool { return int64(uint32(st.Type)) == 0x9123683E }

// Careful code asks the field's width itself.
func Careful(st syscall.Statfs_t) bool {
	if unsafe.Sizeof(st.Type) == 4 {
		return int64(uint32(st.Type)) == 0x9123683E
	}
	return int64(st.Type) == 0x9123683E
}
