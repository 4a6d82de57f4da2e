package kmod

import "syscall"

// keyErrno reports the key errnos the kernel returns for a module whose signature it rejects
// (EKEYREJECTED) or cannot check (ENOKEY). They exist only in Linux's errno table.
func keyErrno(errno syscall.Errno) bool {
	return errno == syscall.EKEYREJECTED || errno == syscall.ENOKEY
}
