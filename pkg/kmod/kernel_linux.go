package kmod

import (
	"time"
	"unsafe"

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
	// A raw call: it never blocks, so the scheduler need not hear of it (unix.ClockGettime
	// goes through entersyscall and exitsyscall, and may wake the runtime's monitor thread).
	_, _, errno := unix.RawSyscall(unix.SYS_CLOCK_GETTIME, unix.CLOCK_THREAD_CPUTIME_ID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
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
// call returns (SIGPROF is then discarded: see restoreSignals). Signals sent to the process go
// to its other threads; SIGKILL and SIGSTOP cannot be blocked and act as before.
func blockSignals() (old unix.Sigset_t, ok bool) {
	var all unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^all.Val[i] // every bit, whatever the word size of the architecture
	}
	return old, unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old) == nil
}

// restoreSignals sets the calling thread's signal mask back to what blockSignals returned,
// after discarding a pending SIGPROF (see dropProfileSignal).
func restoreSignals(old unix.Sigset_t, ok bool) {
	if ok {
		dropProfileSignal()
		unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	}
}

// dropProfileSignal takes a pending SIGPROF off the calling thread, which must be blocking it,
// without running the runtime's handler. While a CPU profile runs, the thread's CPU timer
// fires during every load call of more than 10 ms; delivered when the mask is restored, the
// signal would put one sample into the profile at rt_sigprocmask, under the loader, for
// however long the call was: in a coldplug boot that was 45% of the profile's samples, a
// place where no time is spent. The calls' kernel CPU is measured apart (Result.CPU); the
// profile keeps what the process does between them.
func dropProfileSignal() {
	var set unix.Sigset_t
	bits := uint(unsafe.Sizeof(set.Val[0])) * 8
	n := uint(unix.SIGPROF) - 1
	set.Val[n/bits] |= 1 << (n % bits)
	var zero unix.Timespec // poll: never wait, so a raw call (see threadCPU)
	// The kernel's sigset is 8 bytes on most architectures and 16 on MIPS (128 signals): a
	// size it does not take gives EINVAL, so try the other.
	for _, size := range []uintptr{8, 16} {
		_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(&set)), 0,
			uintptr(unsafe.Pointer(&zero)), size, 0, 0)
		if errno != unix.EINVAL {
			return // taken, or none pending (EAGAIN)
		}
	}
}

// defaultKernel returns the running kernel.
func defaultKernel() Kernel { return LinuxKernel{} }

// unloadFlags are the delete_module flags modprobe -r uses: fail instead of waiting while the
// module is in use.
const unloadFlags = unix.O_NONBLOCK
