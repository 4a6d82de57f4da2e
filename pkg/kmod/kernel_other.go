//go:build !linux

package kmod

import (
	"errors"
	"syscall"
	"time"
)

var errNotLinux = errors.New("kernel modules exist only on Linux")

type otherKernel struct{}

func (otherKernel) FinitModule(int, string, int) error { return errNotLinux }
func (otherKernel) InitModule([]byte, string) error    { return errNotLinux }
func (otherKernel) DeleteModule(string, int) error     { return errNotLinux }
func defaultKernel() Kernel                            { return otherKernel{} }
func threadCPU() time.Duration                         { return 0 }

type sigset struct{}

func blockSignals() (sigset, bool) { return sigset{}, false }
func restoreSignals(sigset, bool)  {}

const unloadFlags = syscall.O_NONBLOCK
