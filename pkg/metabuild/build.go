package metabuild

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/pkg/modinfo"
	"github.com/kmodboot/kmodboot/spec"
)

// Options says what to index.
type Options struct {
	// ModuleRoot is the module tree: /lib/modules/<release> of the running system or of any
	// unpacked root.
	ModuleRoot string
	// Release is the kernel release the index is for. Empty means the base name of ModuleRoot.
	Release string
	// Workers is how many modules are read at once. Zero means runtime.GOMAXPROCS(0).
	Workers int
	// Classes chooses a subset by class: "nic", "storage", "fs" (see the package documentation).
	Classes []string
	// Names chooses a subset by module name, fnmatch glob ("virtio_*") or alias ("fs-ext4").
	// '-' and '_' are equivalent. With neither Classes nor Names the whole tree is indexed.
	Names []string
	// ConfigDirs are modprobe.d-style directories whose softdep lines are read. Nil means
	// DefaultConfigDirs(ModuleRoot); an empty non-nil slice reads none.
	ConfigDirs []string
	// Logf receives warnings worth a user's attention (duplicate modules, mixed vermagic,
	// skipped files, selections matching nothing). Nil discards them.
	Logf func(format string, args ...any)
	// Debugf receives details a verbose run shows: each dropped alias, each softdep naming
	// nothing in the tree. Nil discards them.
	Debugf func(format string, args ...any)
}

// Stats describes a build, for the summary a command prints.
type Stats struct {
	// Files is the number of module files found in the tree.
	Files int
	// Duplicates is the number of module files skipped because another file provides the same
	// module name with higher priority.
	Duplicates int
	// Modules and Builtins count the loadable and built-in modules in the index.
	Modules, Builtins int
	// Patterns is the number of (alias pattern, module) records in the match table.
	Patterns int
	// DroppedAliases counts aliases left out because they do not normalize (an unbalanced '['
	// or ']'); depmod drops the same ones.
	DroppedAliases int
	// ConfigFiles lists the modprobe.d-style files whose softdep lines were read.
	ConfigFiles []string
	// Vermagics is the number of distinct non-empty vermagic strings among the modules read.
	Vermagics int
	// UnresolvedSoftdeps counts softdep names of indexed modules that name no module and no
	// alias in the tree (nothing to add to a subset; a loader will skip them too).
	UnresolvedSoftdeps int
}

// mod is one module during a build.
type mod struct {
	name      string
	path      string // relative to the module root; empty for a built-in module
	builtin   bool
	unlisted  bool // built in but not in modules.builtin: only its aliases resolve
	info      *modinfo.Info
	pre, post []string
	deps      []int
	missing   []string // depends= names found nowhere
}

// builder holds the state of one Build.
type builder struct {
	opts     Options
	logf     func(string, ...any)
	debugf   func(string, ...any)
	root     string
	mods     []*mod
	byName   map[string]int
	entries  []modalias.Entry // alias entries of all modules, Module indexing mods
	byFirst  map[byte][]int   // entries whose pattern starts with that literal byte
	wild     []int            // entries whose pattern starts with a wildcard
	vermagic string
	stats    Stats
}

// Build indexes the module tree described by opts.
func Build(opts Options) (*spec.Index, error) {
	idx, _, err := BuildStats(opts)
	return idx, err
}

// BuildStats is Build that also returns statistics about the build.
func BuildStats(opts Options) (*spec.Index, *Stats, error) {
	b, idx, err := run(opts)
	if err != nil {
		return nil, nil, err
	}
	return idx, &b.stats, nil
}

// run performs a build and returns the builder too, whose state tests inspect.
func run(opts Options) (*builder, *spec.Index, error) {
	b := &builder{opts: opts, logf: opts.Logf, debugf: opts.Debugf}
	if b.logf == nil {
		b.logf = func(string, ...any) {}
	}
	if b.debugf == nil {
		b.debugf = func(string, ...any) {}
	}
	if err := b.load(); err != nil {
		return nil, nil, err
	}
	keep, selection, err := b.selectModules()
	if err != nil {
		return nil, nil, err
	}
	idx, err := b.index(keep, selection)
	if err != nil {
		return nil, nil, err
	}
	return b, idx, nil
}

// load reads the whole tree into b.mods.
func (b *builder) load() error {
	if b.opts.ModuleRoot == "" {
		return errors.New("no module root given: pass the /lib/modules/<release> directory to index")
	}
	root, err := filepath.Abs(b.opts.ModuleRoot)
	if err != nil {
		return fmt.Errorf("module root %s: %w", b.opts.ModuleRoot, err)
	}
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("module root: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("module root %s is not a directory", root)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("module root: %w", err)
	}
	b.root = root

	files, err := findModules(root, realRoot, b.logf)
	if err != nil {
		return err
	}
	b.stats.Files = len(files)
	order, err := readOrder(root, b.logf)
	if err != nil {
		return fmt.Errorf("%s: %w", root, err)
	}
	winners, losers := pickModules(files, order)
	b.stats.Duplicates = len(losers)
	for _, l := range losers {
		b.logf("ignoring %s: module %s is also provided by a file of higher priority", l.rel, l.name)
	}

	infos, err := readAll(root, winners, b.opts.Workers)
	if err != nil {
		return err
	}
	builtins, listed, err := readBuiltins(root)
	if err != nil {
		return fmt.Errorf("%s: %w", root, err)
	}

	b.mods = make([]*mod, 0, len(winners)+len(builtins))
	b.byName = make(map[string]int, len(winners)+len(builtins))
	vermagics := make(map[string]bool)
	var vermagic string
	for i, f := range winners {
		info := infos[i]
		if info.Name != f.name {
			b.logf("%s: .modinfo says name=%s; using %s from the file name, as kmod does", f.rel, info.Name, f.name)
		}
		if v := info.Vermagic; v != "" {
			if vermagic == "" {
				vermagic = v
			}
			vermagics[v] = true
		}
		b.mods = append(b.mods, &mod{name: f.name, path: f.rel, info: info})
	}
	b.stats.Vermagics = len(vermagics)
	if len(vermagics) > 1 {
		b.logf("modules disagree about vermagic (%d different strings); the index records %q",
			len(vermagics), vermagic)
	}
	for name, info := range builtins {
		if i := sort.Search(len(winners), func(i int) bool { return winners[i].name >= name }); i < len(winners) && winners[i].name == name {
			b.logf("module %s is listed as built in but %s exists; indexing the loadable module", name, winners[i].rel)
			continue
		}
		b.mods = append(b.mods, &mod{name: name, builtin: true, unlisted: !listed[name], info: info})
	}
	sort.Slice(b.mods, func(i, j int) bool { return b.mods[i].name < b.mods[j].name })
	for i, m := range b.mods {
		b.byName[m.name] = i
	}
	b.vermagic = vermagic

	if err := b.softdeps(); err != nil {
		return err
	}
	b.resolveDepends()
	b.collectAliases()
	return nil
}

// readAll reads the .modinfo of every file with a pool of workers. Errors for all failing files
// are joined (at most ten are shown).
func readAll(root string, files []moduleFile, workers int) ([]*modinfo.Info, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(len(files), 1))
	infos := make([]*modinfo.Info, len(files))
	errs := make([]error, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				infos[i], errs[i] = modinfo.ReadFile(filepath.Join(root, filepath.FromSlash(files[i].rel)))
			}
		})
	}
	wg.Wait()
	var failed []error
	n := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		n++
		if len(failed) < 10 {
			failed = append(failed, err)
		}
	}
	if n == 0 {
		return infos, nil
	}
	if n > len(failed) {
		failed = append(failed, fmt.Errorf("... and %d more unreadable modules", n-len(failed)))
	}
	return nil, fmt.Errorf("%d module files cannot be read; remove or reinstall them:\n%w", n, errors.Join(failed...))
}

// softdeps sets every module's effective softdeps: its own softdep= fields, replaced by the
// configuration's softdep lines for it when there are any.
func (b *builder) softdeps() error {
	dirs := b.opts.ConfigDirs
	if dirs == nil {
		dirs = DefaultConfigDirs(b.root)
	}
	lines, files, err := readConfigSoftdeps(dirs, b.logf)
	if err != nil {
		return err
	}
	b.stats.ConfigFiles = files
	for _, m := range b.mods {
		pre, post := m.info.SoftdepPre, m.info.SoftdepPost
		configured := false
		for i := range lines {
			c := &lines[i]
			if !c.matches(m.name) {
				continue
			}
			if !configured {
				pre, post, configured = nil, nil, true
			}
			pre = append(pre, c.pre...)
			post = append(post, c.post...)
		}
		m.pre, m.post = dedup(pre), dedup(post)
	}
	return nil
}

// resolveDepends turns depends= names into module indices, recording names found nowhere.
func (b *builder) resolveDepends() {
	for i, m := range b.mods {
		for _, d := range m.info.Depends {
			j, ok := b.byName[d]
			switch {
			case !ok:
				m.missing = append(m.missing, d)
			case j == i:
			case !containsInt(m.deps, j):
				m.deps = append(m.deps, j)
			}
		}
	}
}

// collectAliases normalizes every alias of every module into b.entries.
func (b *builder) collectAliases() {
	type key struct {
		pattern string
		module  int
	}
	seen := make(map[key]bool)
	for i, m := range b.mods {
		for _, a := range m.info.Aliases {
			p, err := modalias.Normalize(a)
			if err != nil {
				b.stats.DroppedAliases++
				b.debugf("module %s: dropping alias %q: %v", m.name, a, err)
				continue
			}
			k := key{p, i}
			if seen[k] {
				continue
			}
			seen[k] = true
			b.entries = append(b.entries, modalias.Entry{Pattern: p, Module: uint32(i), Builtin: m.builtin})
		}
	}
}

// index builds the spec.Index of the modules with keep[i] set.
func (b *builder) index(keep []bool, selection []string) (*spec.Index, error) {
	newIdx := make([]int, len(b.mods))
	n := 0
	for i := range b.mods {
		newIdx[i] = -1
		if keep[i] {
			newIdx[i] = n
			n++
		}
	}
	var missing []error
	mods := make([]*spec.Module, 0, n)
	for i, m := range b.mods {
		if !keep[i] {
			continue
		}
		for _, d := range m.missing {
			missing = append(missing, fmt.Errorf("module %s (%s) depends on %s, which is neither a module file in the tree nor built in",
				m.name, m.path, d))
		}
		sm := &spec.Module{
			Name:            m.name,
			Path:            m.path,
			Builtin:         m.builtin,
			BuiltinUnlisted: m.unlisted,
			SoftdepPre:      m.pre,
			SoftdepPost:     m.post,
			Firmware:        m.info.Firmware,
		}
		if !m.builtin {
			sm.Size = uint64(m.info.Size)
			b.stats.Modules++
		} else {
			b.stats.Builtins++
		}
		for _, d := range m.deps {
			if newIdx[d] < 0 {
				return nil, fmt.Errorf("internal error: module %s kept without its dependency %s", m.name, b.mods[d].name)
			}
			sm.Depends = append(sm.Depends, uint32(newIdx[d]))
		}
		mods = append(mods, sm)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: unresolved dependencies; install the missing modules or leave out the modules needing them:\n%w",
			b.root, errors.Join(missing...))
	}
	entries := make([]modalias.Entry, 0, len(b.entries))
	for _, e := range b.entries {
		if j := newIdx[e.Module]; j >= 0 {
			e.Module = uint32(j)
			entries = append(entries, e)
		}
	}
	b.stats.Patterns = len(entries)
	mt, err := BuildMatchTable(entries)
	if err != nil {
		return nil, fmt.Errorf("%s: build match table: %w", b.root, err)
	}
	release := b.opts.Release
	if release == "" {
		release = filepath.Base(b.root)
	}
	return &spec.Index{
		FormatVersion: spec.FormatVersion,
		KernelRelease: release,
		Vermagic:      b.vermagic,
		Modules:       mods,
		Match:         mt,
		Subset:        len(selection) > 0,
		Selection:     selection,
	}, nil
}

// dedup removes repeated strings, keeping the first of each.
func dedup(list []string) []string {
	if len(list) < 2 {
		return list
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		dup := false
		for _, o := range out {
			if o == s {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

func containsInt(list []int, x int) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}
