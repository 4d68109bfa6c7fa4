// Package timespec fills syscall.Timespec and Timeval, whose fields are int32 on linux/arm.
package timespec

import (
	"syscall"
	"time"
)

func Literal(t time.Time) syscall.Timespec {
	return syscall.Timespec{Sec: t.Unix(), Nsec: 0} // want `timespec: syscall.Timespec.Sec \(t.Unix\(\) is int64\)`
}

func Assign(t time.Time) syscall.Timeval {
	var tv syscall.Timeval
	tv.Usec = int64(t.Nanosecond() / 1000) // want `timespec: syscall.Timeval.Usec \(.* is int64\)`
	return tv
}

func Untyped() syscall.Timespec { return syscall.Timespec{Sec: 1 << 20, Nsec: 5} }

func Converted(t time.Time) syscall.Timespec { return syscall.NsecToTimespec(t.UnixNano()) }
