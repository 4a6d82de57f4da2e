package uevent

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrOverflow is returned by Receive when the kernel dropped events because the socket's receive
// buffer was full (ENOBUFS); it also matches syscall.ENOBUFS with errors.Is. Events were lost:
// rescan sysfs. The connection stays usable. It is defined in a portable file so that fake event
// sources in tests return the same error.
var ErrOverflow = fmt.Errorf("uevent: receive buffer overflowed, events were lost (rescan sysfs): %w", syscall.ENOBUFS)

// ErrClosed is returned by Receive once the connection is closed.
var ErrClosed = errors.New("uevent: connection closed")
