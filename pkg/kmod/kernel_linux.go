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

// blockSignals blocks every signal the calling thread can block and returns its previous mask;
// ok is false when the mask could not be changed. The caller must be locked to its thread.
//
// A load call runs the module's init, and with it the probes of its devices, in the calling
// thread; a signal pending on that thread makes the kernel's interruptible waits in there
// return early (msleep_interruptible, wait_event_interruptible) or the call restart. kmod's
// modprobe never gets signals it did not ask for, but a Go program does: the runtime's
// preemption (SIGURG) and, while profiling, SIGPROF from the thread's CPU timer, which a load
// using a tenth of a second of kernel CPU always crosses. Blocked, they stay pending until the
// call returns. Signals sent to the process go to its other threads; SIGKILL and SIGSTOP cannot
// be blocked and act as before.
func blockSignals() (old unix.Sigset_t, ok bool) {
	var all unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^all.Val[i] // every bit, whatever the word size of the architecture
	}
	return old, unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old) == nil
}

// restoreSignals sets the calling thread's signal mask back to what blockSignals returned.
func restoreSignals(old unix.Sigset_t, ok bool) {
	if ok {
		unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	}
}

// defaultKernel returns the running kernel.
func defaultKernel() Kernel { return LinuxKernel{} }

// unloadFlags are the delete_module flags modprobe -r uses: fail instead of waiting while the
// module is in use.
const unloadFlags = unix.O_NONBLOCK
