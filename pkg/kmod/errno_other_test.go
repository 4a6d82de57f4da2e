//go:build !linux

package kmod_test

import "syscall"

// keyRejected stands in for EKEYREJECTED, which only Linux has, with another signature errno.
const keyRejected = syscall.EBADMSG
