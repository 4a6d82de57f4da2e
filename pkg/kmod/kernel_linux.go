package kmod

import (
	"time"

	"golang.org/x/sys/unix"
)

// LinuxKernel makes the real system calls.
type LinuxKernel struct{}

// FinitModule calls finit_module(2).
func (LinuxKernel) FinitModule(fd int, params string, flags int) error {
	return unix.FinitModule(fd, params, flags)
}

// InitModule calls init_module(2).
func (LinuxKernel) InitModule(image []byte, params string) error {
	return unix.InitModule(image, params)
}

// DeleteModule calls delete_module(2).
func (LinuxKernel) DeleteModule(name string, flags int) error {
	return unix.DeleteModule(name, flags)
}

// threadCPU returns the CPU time the calling thread has used (user and system), or 0 if the
// clock cannot be read.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// defaultKernel returns the running kernel.
func defaultKernel() Kernel { return LinuxKernel{} }

// unloadFlags are the delete_module flags modprobe -r uses: fail instead of waiting while the
// module is in use.
const unloadFlags = unix.O_NONBLOCK
