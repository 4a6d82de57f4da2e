package kmod

import (
	"fmt"
	"time"

	"github.com/kmodboot/kmodboot/pkg/modindex"
)

// Kernel is the seam between the loader and the kernel's module system calls. The real one is
// LinuxKernel; tests use kmodtest.Kernel.
type Kernel interface {
	// FinitModule loads the module file open on fd (finit_module(2)). flags may hold
	// MODULE_INIT_COMPRESSED_FILE (FlagCompressedFile).
	FinitModule(fd int, params string, flags int) error
	// InitModule loads a module image held in memory (init_module(2)); the loader uses it only
	// for a compressed file the kernel cannot decompress itself.
	InitModule(image []byte, params string) error
	// DeleteModule unloads a module by name (delete_module(2)).
	DeleteModule(name string, flags int) error
}

// FlagCompressedFile is MODULE_INIT_COMPRESSED_FILE: finit_module decompresses the file itself.
const FlagCompressedFile = 4

// State says what happened to one module.
type State int

const (
	// StateLoaded means this request loaded the module.
	StateLoaded State = iota + 1
	// StateAlready means the module was loaded before (or by another process in the meantime:
	// EEXIST, initstate "coming").
	StateAlready
	// StateBuiltin means the module is compiled into the kernel: nothing to load.
	StateBuiltin
	// StateBlacklisted means the module was found through an alias (or named with
	// Options.BlacklistNames) and is blacklisted, so it was not loaded.
	StateBlacklisted
	// StateSkipped means the module was not loaded on purpose or because it could not be: a hard
	// dependency failed (Err says which), the context was cancelled, or modprobe.d says
	// "install <module> /bin/true".
	StateSkipped
	// StateFailed means loading the module failed; Err says why.
	StateFailed
	// StateDryRun means the module would have been loaded (Options.DryRun).
	StateDryRun
	// StateUnloaded means Unload removed the module.
	StateUnloaded
	// StateInUse means Unload left the module loaded because other modules or users hold it.
	StateInUse
	// StateNotLoaded means Unload found the module not loaded.
	StateNotLoaded
)

var stateNames = map[State]string{
	StateLoaded:      "loaded",
	StateAlready:     "already",
	StateBuiltin:     "builtin",
	StateBlacklisted: "blacklisted",
	StateSkipped:     "skipped",
	StateFailed:      "failed",
	StateDryRun:      "dry-run",
	StateUnloaded:    "unloaded",
	StateInUse:       "in-use",
	StateNotLoaded:   "not-loaded",
}

// String returns the state's name as reports print it ("loaded", "already", "builtin", ...).
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText makes a State read as its name in JSON reports.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// OK reports whether the module is usable after this result: loaded now, before, or built in.
func (s State) OK() bool { return s == StateLoaded || s == StateAlready || s == StateBuiltin }

// Result is what happened to one module of a request.
type Result struct {
	// Module is the module's name as the kernel spells it ('_', not '-').
	Module string `json:"module"`
	// Path is the module file (under the module directory), or "" for a built-in module.
	Path string `json:"path,omitempty"`
	// Params are the parameters the module was (or would be) loaded with.
	Params string `json:"params,omitempty"`
	// State says what happened.
	State State `json:"state"`
	// Err is the failure, for StateFailed and for some StateSkipped results; nil otherwise.
	Err error `json:"-"`
	// Via is the module that pulled this one in as a hard dependency or softdep; "" for a
	// module the request asked for.
	Via string `json:"via,omitempty"`
	// Softdep is true when Via pulled this module in through a softdep, whose failure does not
	// fail Via.
	Softdep bool `json:"softdep,omitempty"`
	// Alias is the name or alias the request asked for, when this module answered it through an
	// alias; "" for dependencies and modules named exactly.
	Alias string `json:"alias,omitempty"`
	// Call is the system call used: "finit_module", "finit_module(compressed)" or "init_module";
	// "" when none was made.
	Call string `json:"call,omitempty"`
	// Start and End bracket the system call (or the check that made it unnecessary).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Live is when the loader learned that the module was live while its call was still
	// running: its init had returned, and the kernel was waiting for every asynchronous probe
	// in the system before returning from the call (see DefaultLivePoll). Zero when the call
	// returned first or none was made.
	Live time.Time `json:"live,omitzero"`
	// CPU is the CPU time the calling thread used during the system call: the kernel's work
	// for it (reading, relocating and checking the module, its init, and the probes that init
	// runs itself). Work the kernel hands to its own threads (asynchronous probes) is not in
	// it. Zero when no call was made.
	CPU time.Duration `json:"cpu_ns,omitempty"`
}

// Duration returns End - Start.
func (r Result) Duration() time.Duration { return r.End.Sub(r.Start) }

// Phase says where an Event is in a module's load.
type Phase int

const (
	// PhaseStart is sent just before the loader makes a system call for the module.
	PhaseStart Phase = iota + 1
	// PhaseDone is sent when the module's Result is final.
	PhaseDone
	// PhaseLive is sent when the module turned live while its call was still running; the
	// Result is as at PhaseStart, with Live set. Modules placed after it start now.
	PhaseLive
)

// Event is passed to Options.Trace.
type Event struct {
	Phase Phase
	// Result is the module's result so far; at PhaseStart only Module, Path, Params, Via,
	// Softdep, Alias, Call and Start are set.
	Result Result
}

// Options configure a Loader.
type Options struct {
	// Index is the module index; required.
	Index *modindex.Index
	// Root is the directory that stands for / when reading /proc, /sys, /lib/modules and the
	// modprobe.d directories; "" means "/".
	Root string
	// ModuleDir is the directory module paths in Index are relative to; "" means
	// <Root>/lib/modules/<Index.Release()>.
	ModuleDir string
	// Release is the running kernel's release; "" means uname -r. New refuses an Index built
	// for another release.
	Release string
	// Kernel makes the system calls; nil means the running kernel (LinuxKernel).
	Kernel Kernel
	// Config is the modprobe.d and kernel command line configuration; nil means
	// LoadConfig(Root).
	Config *Config
	// Parallel bounds concurrent load system calls; 0 means DefaultParallel(). A call whose
	// module has turned live no longer counts (see DefaultLivePoll).
	Parallel int
	// LivePoll is how often the initstate of modules whose calls are running is read, to learn
	// that they are live; 0 means DefaultLivePoll, a negative value never (then only NoteLive
	// tells, or the call's return).
	LivePoll time.Duration
	// DryRun resolves and orders modules but loads nothing (modprobe -n).
	DryRun bool
	// IgnoreLoaded plans as if no module were loaded (modprobe --show-depends).
	IgnoreLoaded bool
	// BlacklistNames applies the blacklist to modules named explicitly too (modprobe -b).
	BlacklistNames bool
	// Decompress returns the decompressed image of a compressed module file; nil means
	// modinfo.Decompress.
	Decompress func(path string) ([]byte, error)
	// Trace, when set, is called as each module starts and finishes loading, possibly from
	// several goroutines at once.
	Trace func(Event)
}
