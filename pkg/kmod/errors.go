package kmod

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrNoDevice is matched (errors.Is) by a LoadError whose module returned ENODEV from its init:
// the driver found no hardware it handles. Coldplug treats it as benign.
var ErrNoDevice = errors.New("no such device")

// ErrInUse is matched by an Unload error when the module is still used.
var ErrInUse = errors.New("module is in use")

// ErrBuiltin is matched by an Unload error when the module is built into the kernel.
var ErrBuiltin = errors.New("module is built in")

// LoadError is a failure to load one module.
type LoadError struct {
	// Module is the module's name.
	Module string
	// Path is the module file.
	Path string
	// Op is what failed: "finit_module", "init_module", "open", "decompress", "install", ...
	Op string
	// Err is the underlying error, usually a syscall.Errno.
	Err error
	// Hint tells a person what to do about it.
	Hint string
}

func (e *LoadError) Error() string {
	s := fmt.Sprintf("load %s (%s): %s: %v", e.Module, e.Path, e.Op, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the underlying error, so errors.Is(err, syscall.ENOEXEC) works.
func (e *LoadError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNoDevice) true for an ENODEV failure.
func (e *LoadError) Is(target error) bool {
	return target == ErrNoDevice && errors.Is(e.Err, syscall.ENODEV)
}

const signatureHint = "module signature rejected or missing: the kernel enforces module signatures; see dmesg"

// Hint returns advice for an errno returned by finit_module or init_module, or "" when there is
// nothing better to say than the errno's own text.
func Hint(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return ""
	}
	switch errno {
	case syscall.ENOENT:
		return "unknown symbol in module, or unknown parameter: see dmesg"
	case syscall.EINVAL:
		return "invalid module format or parameter value: see dmesg"
	case syscall.ENOEXEC:
		return "not a module for this kernel: built for another kernel (wrong vermagic or architecture), or the file is corrupt; see dmesg"
	case syscall.EBADMSG:
		return signatureHint
	case syscall.ENODEV:
		return "no such hardware: the driver found no device it handles"
	case syscall.EPERM, syscall.EACCES:
		return "need CAP_SYS_MODULE (run as root), or module loading is disabled (kernel.modules_disabled, lockdown)"
	case syscall.EBUSY:
		return "the kernel is busy with this module (another load or unload in progress); retry"
	case syscall.ENOMEM:
		return "out of memory"
	case syscall.ENOSPC:
		return "out of module address space or memory"
	case syscall.ETXTBSY:
		return "the module file is open for writing"
	case syscall.EOPNOTSUPP:
		return "the kernel cannot decompress this module"
	}
	if keyErrno(errno) {
		return signatureHint
	}
	return ""
}

// ReleaseError reports a meta.pb built for another kernel release than the running one.
type ReleaseError struct {
	// Index is the meta.pb file.
	Index string
	// Built is the release the index was built for; Running is the kernel's.
	Built, Running string
}

func (e *ReleaseError) Error() string {
	return fmt.Sprintf("module index %s is for kernel %s, but the kernel is %s: its modules would not load; use the index of /lib/modules/%s (build it with mkmeta) or name the release with -S",
		e.Index, e.Built, e.Running, e.Running)
}

// UnsupportedError reports a modprobe.d command this loader does not run.
type UnsupportedError struct {
	// Module is the module the command is for.
	Module string
	// Kind is "install" or "remove"; Command is its shell command.
	Kind, Command string
	// Source is the file and line the command came from.
	Source string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s %s %s: shell commands are not supported (only /bin/true and /bin/false); remove the line or load the module another way",
		e.Source, e.Kind, e.Module, e.Command)
}
