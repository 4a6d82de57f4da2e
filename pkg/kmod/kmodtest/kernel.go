// Package kmodtest provides a fake kernel and fake module trees for testing code that loads
// modules through pkg/kmod, without root and without a VM.
//
// The fake kernel behaves like Linux where the loader can tell: it refuses a module whose
// dependencies are not loaded (ENOENT, as for an unknown symbol), a file that is not a module
// (ENOEXEC, as for a bad ELF, which includes compressed data handed to finit_module without
// MODULE_INIT_COMPRESSED_FILE), a module already loaded (EEXIST); and it shows its state the
// way the loader reads it, as files under a root directory: /proc/modules with reference counts
// and holders, /sys/module/<name>/initstate.
package kmodtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kmodboot/kmodboot/pkg/modinfo"
)

// Magic starts every fake module file. The rest of the file is "key=value" lines: name=,
// depends= (comma-separated).
const Magic = "kmodtest-module\n"

// Call records one system call made to the fake kernel.
type Call struct {
	// Op is "finit_module", "init_module" or "delete_module".
	Op string
	// Module is the module's name ("" when the image could not be parsed).
	Module string
	Params string
	Flags  int
	// Err is what the call returned.
	Err error
	// Start and End bracket the call.
	Start, End time.Time
	// Live is when the module turned live (zero if it did not).
	Live time.Time
}

// Kernel is a fake kernel. Its zero value is not usable: set Root.
type Kernel struct {
	// Root is where /proc/modules and /sys/module are kept.
	Root string
	// Compression is what finit_module decompresses with MODULE_INIT_COMPRESSED_FILE ("xz",
	// "zstd", "gzip"; "" means none, like a kernel without CONFIG_MODULE_DECOMPRESS, which
	// returns EOPNOTSUPP). NewKernel writes it to <Root>/sys/module/compression.
	Compression string
	// Delay is how long each module's init takes.
	Delay time.Duration
	// Settle is how long a load call goes on after its module is live, as Linux's goes on
	// until every asynchronous probe in the system has finished.
	Settle time.Duration
	// OnLive, when set, is called with the module's name as it turns live (where Linux sends
	// the module's "add" uevent), before Settle.
	OnLive func(name string)
	// InitErr makes a module's init fail with the given error (e.g. syscall.ENODEV).
	InitErr map[string]error

	mu        sync.Mutex // mu guards everything below and the files under Root.
	mods      map[string]*fakeModule
	order     []string
	calls     []Call
	active    int
	maxActive int
}

type fakeModule struct {
	name    string
	deps    []string
	holders map[string]bool
	state   string // "coming", "live"
	params  string
}

// NewKernel returns a fake kernel keeping its state under root. compression is what it
// decompresses itself ("" for none).
func NewKernel(root, compression string) (*Kernel, error) {
	k := &Kernel{Root: root, Compression: compression}
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(root, "sys/module"), 0o755); err != nil {
		return nil, err
	}
	if compression != "" {
		if err := os.WriteFile(filepath.Join(root, "sys/module/compression"), []byte(compression+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k, k.writeProcLocked()
}

// Calls returns the system calls made so far.
func (k *Kernel) Calls() []Call {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Call(nil), k.calls...)
}

// LoadOrder returns the names of modules in the order their loads succeeded.
func (k *Kernel) LoadOrder() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.order...)
}

// MaxConcurrent returns the largest number of module inits that ran at once.
func (k *Kernel) MaxConcurrent() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.maxActive
}

// Loaded returns the loaded modules and their parameters.
func (k *Kernel) Loaded() map[string]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]string{}
	for n, m := range k.mods {
		out[n] = m.params
	}
	return out
}

// Preload marks modules as loaded (live) before a test, with their dependencies.
func (k *Kernel) Preload(name string, deps ...string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.addLocked(&fakeModule{name: name, deps: deps, state: "live"})
	return k.writeAllLocked(name)
}

// SetState overwrites a module's initstate (to simulate "coming" or "going").
func (k *Kernel) SetState(name, state string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := k.mods[name]
	if m == nil {
		return fmt.Errorf("fake kernel: %s is not loaded", name)
	}
	m.state = state
	return k.writeAllLocked(name)
}

// FinitModule implements kmod.Kernel.
func (k *Kernel) FinitModule(fd int, params string, flags int) error {
	start := time.Now()
	data, err := readFD(fd)
	if err == nil {
		switch {
		case flags&^4 != 0:
			err = syscall.EINVAL
		case flags&4 != 0:
			kind, _ := modinfo.Sniff(data)
			if k.Compression == "" {
				err = syscall.EOPNOTSUPP
			} else if kind != k.Compression {
				err = syscall.EINVAL
			} else {
				data, err = modinfo.DecompressBytes(data)
				if err != nil {
					err = syscall.EINVAL
				}
			}
		}
	}
	return k.load("finit_module", data, err, params, flags, start)
}

// InitModule implements kmod.Kernel.
func (k *Kernel) InitModule(image []byte, params string) error {
	return k.load("init_module", image, nil, params, 0, time.Now())
}

func readFD(fd int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 64<<10)
	var off int64
	for {
		n, err := syscall.Pread(fd, buf, off)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
		off += int64(n)
	}
}

// parse reads a fake module image; anything else is ENOEXEC, like a bad ELF.
func parse(data []byte) (*fakeModule, error) {
	if !bytes.HasPrefix(data, []byte(Magic)) {
		return nil, syscall.ENOEXEC
	}
	m := &fakeModule{}
	for _, line := range strings.Split(string(data[len(Magic):]), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "name":
			m.name = v
		case "depends":
			if v != "" {
				m.deps = strings.Split(v, ",")
			}
		}
	}
	if m.name == "" {
		return nil, syscall.ENOEXEC
	}
	return m, nil
}

func (k *Kernel) load(op string, data []byte, err error, params string, flags int, start time.Time) error {
	var m *fakeModule
	if err == nil {
		m, err = parse(data)
	}
	name := ""
	if m != nil {
		name = m.name
		m.params = params
	}
	var live time.Time
	record := func(err error) error {
		k.mu.Lock()
		k.calls = append(k.calls, Call{Op: op, Module: name, Params: params, Flags: flags, Err: err, Start: start, End: time.Now(), Live: live})
		k.mu.Unlock()
		return err
	}
	if err != nil {
		return record(err)
	}
	k.mu.Lock()
	if k.mods == nil {
		k.mods = map[string]*fakeModule{}
	}
	if _, ok := k.mods[m.name]; ok {
		k.mu.Unlock()
		return record(syscall.EEXIST)
	}
	for _, d := range m.deps {
		if dm := k.mods[d]; dm == nil || dm.state != "live" {
			k.mu.Unlock()
			return record(syscall.ENOENT) // unknown symbol
		}
	}
	m.state = "coming"
	k.addLocked(m)
	k.active++
	k.maxActive = max(k.maxActive, k.active)
	werr := k.writeAllLocked(m.name)
	initErr := k.InitErr[m.name]
	k.mu.Unlock()
	if werr != nil {
		return record(werr)
	}

	time.Sleep(k.Delay)

	k.mu.Lock()
	k.active--
	if initErr != nil {
		k.removeLocked(m.name)
	} else {
		m.state = "live"
		live = time.Now()
		k.order = append(k.order, m.name)
	}
	werr = k.writeAllLocked(m.name)
	onLive := k.OnLive
	k.mu.Unlock()
	if initErr != nil {
		return record(initErr)
	}
	if werr == nil {
		if onLive != nil {
			onLive(m.name)
		}
		time.Sleep(k.Settle)
	}
	return record(werr)
}

// DeleteModule implements kmod.Kernel.
func (k *Kernel) DeleteModule(name string, flags int) error {
	start := time.Now()
	k.mu.Lock()
	err := func() error {
		m := k.mods[name]
		switch {
		case m == nil:
			return syscall.ENOENT
		case len(m.holders) > 0:
			return syscall.EWOULDBLOCK
		case m.state != "live":
			return syscall.EBUSY
		}
		k.removeLocked(name)
		return k.writeAllLocked(name)
	}()
	k.calls = append(k.calls, Call{Op: "delete_module", Module: name, Flags: flags, Err: err, Start: start, End: time.Now()})
	k.mu.Unlock()
	return err
}

func (k *Kernel) addLocked(m *fakeModule) {
	if k.mods == nil {
		k.mods = map[string]*fakeModule{}
	}
	m.holders = map[string]bool{}
	k.mods[m.name] = m
	for _, d := range m.deps {
		if dm := k.mods[d]; dm != nil {
			dm.holders[m.name] = true
		}
	}
}

func (k *Kernel) removeLocked(name string) {
	m := k.mods[name]
	delete(k.mods, name)
	for _, d := range m.deps {
		if dm := k.mods[d]; dm != nil {
			delete(dm.holders, name)
		}
	}
}

func (k *Kernel) writeAllLocked(name string) error {
	dir := filepath.Join(k.Root, "sys/module", name)
	if m := k.mods[name]; m != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "initstate"), []byte(m.state+"\n"), 0o644); err != nil {
			return err
		}
	} else if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return k.writeProcLocked()
}

// writeProcLocked writes /proc/modules in the kernel's format, newest module first.
func (k *Kernel) writeProcLocked() error {
	names := make([]string, 0, len(k.mods))
	for n := range k.mods {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		m := k.mods[n]
		holders := "-"
		if len(m.holders) > 0 {
			hs := make([]string, 0, len(m.holders))
			for h := range m.holders {
				hs = append(hs, h)
			}
			sort.Strings(hs)
			holders = strings.Join(hs, ",") + ","
		}
		state := map[string]string{"live": "Live", "coming": "Loading", "going": "Unloading"}[m.state]
		fmt.Fprintf(&b, "%s %d %d %s %s 0xffffffffc%07x\n", n, 16384, len(m.holders), holders, state, i*0x1000)
	}
	return os.WriteFile(filepath.Join(k.Root, "proc/modules"), []byte(b.String()), 0o644)
}
