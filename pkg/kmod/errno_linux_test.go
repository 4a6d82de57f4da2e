package kmod_test

import "syscall"

// keyRejected is the errno of a rejected module signature; only Linux has it.
const keyRejected = syscall.EKEYREJECTED
