//go:build !linux

package kmod

import "syscall"

// keyErrno is false off Linux, whose kernel alone returns EKEYREJECTED and ENOKEY; the loader's
// portable logic still builds and is tested there with a fake kernel.
func keyErrno(syscall.Errno) bool { return false }
