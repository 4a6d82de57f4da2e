package kmod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kmodboot/kmodboot/internal/sysread"
)

// InitState is a module's state in the kernel, from /sys/module/<name>/initstate.
type InitState int

const (
	// NotLoaded: no /sys/module/<name>.
	NotLoaded InitState = iota
	// Live: initialized and running.
	Live
	// Coming: being initialized; the kernel makes other loads of it wait and then fail with
	// EEXIST, so the loader counts it as loaded.
	Coming
	// Going: being unloaded.
	Going
	// Builtin: /sys/module/<name> exists without initstate, which is how the kernel shows a
	// built-in module (with parameters or a version).
	Builtin
)

var initStateNames = [...]string{"not loaded", "live", "coming", "going", "builtin"}

func (s InitState) String() string {
	if int(s) < len(initStateNames) {
		return initStateNames[s]
	}
	return fmt.Sprintf("InitState(%d)", int(s))
}

// ReadInitState returns the state of module name under root ("" means "/").
func ReadInitState(root, name string) (InitState, error) {
	dir := filepath.Join(rootDir(root), "sys/module", name)
	data, err := sysread.ReadFile(filepath.Join(dir, "initstate"))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return NotLoaded, fmt.Errorf("module %s: read initstate: %w", name, err)
		}
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return Builtin, nil
		}
		return NotLoaded, nil
	}
	switch s := string(bytes.TrimSpace(data)); s {
	case "live":
		return Live, nil
	case "coming":
		return Coming, nil
	case "going":
		return Going, nil
	default:
		return NotLoaded, fmt.Errorf("module %s: %s/initstate says %q, want live, coming or going", name, dir, s)
	}
}

// ProcModule is one line of /proc/modules.
type ProcModule struct {
	// Name is the module's name.
	Name string
	// Size is its memory size in bytes.
	Size uint64
	// Refcount is its reference count, or -1 when the kernel has no module unloading
	// (CONFIG_MODULE_UNLOAD=n prints "-").
	Refcount int
	// Holders are the loaded modules that use this one.
	Holders []string
	// State is "Live", "Loading" or "Unloading".
	State string
}

// ReadProcModules parses <root>/proc/modules.
func ReadProcModules(root string) ([]ProcModule, error) {
	path := filepath.Join(rootDir(root), "proc/modules")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read loaded modules: %w", err)
	}
	mods, err := ParseProcModules(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mods, nil
}

// ParseProcModules parses the content of /proc/modules:
//
//	name size refcount holder,holder,|- state address [taints]
func ParseProcModules(data []byte) ([]ProcModule, error) {
	var mods []ProcModule
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 5 {
			return nil, fmt.Errorf("line %d: %d fields, want at least 5 (name size refcount holders state)", line, len(f))
		}
		m := ProcModule{Name: f[0], State: f[4]}
		size, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: module %s: bad size %q", line, f[0], f[1])
		}
		m.Size = size
		if f[2] == "-" {
			m.Refcount = -1
		} else if m.Refcount, err = strconv.Atoi(f[2]); err != nil || m.Refcount < 0 {
			return nil, fmt.Errorf("line %d: module %s: bad reference count %q", line, f[0], f[2])
		}
		if f[3] != "-" {
			for _, h := range strings.Split(f[3], ",") {
				if h != "" {
					m.Holders = append(m.Holders, h)
				}
			}
		}
		mods = append(mods, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return mods, nil
}
