package modindex

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/kmodboot/kmodboot/pkg/modalias"
)

// Index is an opened meta.pb. It is safe for concurrent use.
type Index struct {
	source   string
	version  uint32
	release  string
	vermagic string
	subset   bool
	data     []byte   // the whole file
	offs     []uint32 // offs[i]: where module i's length-prefixed message starts in data
	table    *modalias.Table

	mu      sync.Mutex      // mu guards decoded.
	decoded map[int]*Module // decoded[i] is module i, decoded on first use.
}

// raw returns module i's Module message. Decode checked that it lies within the file. The
// index keeps offsets rather than slices, and decodes modules into a map rather than a slice,
// so that opening a 4,000-module index allocates 16 KB instead of about 220 KB: in a process
// that lives a millisecond, fresh heap pages (page faults) are a measurable part of its time.
func (ix *Index) raw(i int) []byte {
	v, _ := consumeBytes(ix.data[ix.offs[i]:])
	return v
}

// Match is one answer of Lookup or Resolve.
type Match struct {
	// Module is the module's index in the Index.
	Module int
	// Name is the module's name.
	Name string
	// Pattern is the alias pattern that matched, or "" when the name itself matched.
	Pattern string
	// Builtin is true when the module is compiled into the kernel: nothing to load.
	Builtin bool
}

// NotFoundError reports that no module answers a name or alias.
type NotFoundError struct {
	// Name is what was looked up.
	Name string
	// Source is the meta.pb that was searched.
	Source string
	// Subset is true when that meta.pb covers only part of the kernel's modules.
	Subset bool
}

func (e *NotFoundError) Error() string {
	if e.Subset {
		return fmt.Sprintf("module %s not found in %s (a subset index: add the module when building it)", e.Name, e.Source)
	}
	return fmt.Sprintf("module %s not found in %s", e.Name, e.Source)
}

// Open reads and decodes the meta.pb at path. Where it can, it maps the file instead of reading
// it, so only the pages a lookup touches are ever read.
func Open(path string) (*Index, error) {
	data, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("open module index: %w (build one with mkmeta, or pass -meta FILE)", err)
	}
	return Decode(data, path)
}

// readFile is mapFile's fallback for files that cannot be mapped.
func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// corrupt wraps a decoding problem in an error that names the file and what to do.
func corrupt(source, format string, args ...any) error {
	return fmt.Errorf("module index %s is corrupt: %s (rebuild it with mkmeta)", source, fmt.Sprintf(format, args...))
}

// Decode decodes a meta.pb held in data; source names it in errors. Decode keeps references
// into data, which must not be modified afterwards.
func Decode(data []byte, source string) (*Index, error) {
	if uint64(len(data)) > 1<<32-1 {
		return nil, fmt.Errorf("module index %s is %d bytes: more than this program reads (4 GiB); is it a meta.pb?", source, len(data))
	}
	ix := &Index{source: source, data: data}
	var match []byte
	var haveVersion bool
	b := data
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return nil, corrupt(source, "bad field tag at byte %d: %v", len(data)-len(b), errWire)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == varintType:
			v, n := consumeVarint(b)
			if n < 0 {
				return nil, corrupt(source, "bad format_version: %v", errWire)
			}
			ix.version, haveVersion, b = uint32(v), true, b[n:]
			continue
		case num == 6 && typ == varintType:
			v, n := consumeVarint(b)
			if n < 0 {
				return nil, corrupt(source, "bad subset flag: %v", errWire)
			}
			ix.subset, b = v != 0, b[n:]
			continue
		case typ == bytesType && (num == 2 || num == 3 || num == 4 || num == 5):
			at := len(data) - len(b)
			v, n := consumeBytes(b)
			if n < 0 {
				return nil, corrupt(source, "field %d runs past the end of the file: %v", num, errWire)
			}
			b = b[n:]
			switch num {
			case 2:
				ix.release = string(v)
			case 3:
				ix.vermagic = string(v)
			case 4:
				ix.offs = append(ix.offs, uint32(at))
			case 5:
				match = v
			}
			continue
		}
		n = skipValue(typ, b)
		if n < 0 {
			return nil, corrupt(source, "bad field %d: %v", num, errWire)
		}
		b = b[n:]
	}
	if !haveVersion {
		return nil, fmt.Errorf("%s is not a meta.pb module index (no format version; is it another file?)", source)
	}
	if ix.version != FormatVersion {
		return nil, fmt.Errorf("module index %s has format version %d, this program reads version %d: rebuild it with this release's mkmeta", source, ix.version, FormatVersion)
	}
	mt, err := decodeMatchTable(match)
	if err != nil {
		return nil, corrupt(source, "match table: %v", err)
	}
	t, err := modalias.NewTable(mt)
	if err != nil {
		return nil, corrupt(source, "match table: %v", err)
	}
	ix.table = t
	ix.decoded = map[int]*Module{}
	return ix, nil
}

// decodeMatchTable reads a MatchTable message into modalias.Arrays whose byte fields alias b:
// the table is megabytes, and its arrays are used in place. Field numbers are meta.proto's
// (TestFieldNumbers keeps them in step).
func decodeMatchTable(b []byte) (modalias.Arrays, error) {
	var a modalias.Arrays
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return a, errWire
		}
		b = b[n:]
		var bytesField *[]byte
		var wordField *uint32
		switch num {
		case 1:
			wordField = &a.Layout
		case 2:
			bytesField = &a.Strings
		case 3:
			bytesField = &a.Nodes
		case 4:
			bytesField = &a.Edges
		case 5:
			bytesField = &a.Patterns
		case 6:
			wordField = &a.PatternCount
		case 7:
			bytesField = &a.Grams
		}
		switch {
		case bytesField != nil && typ == bytesType:
			v, n := consumeBytes(b)
			if n < 0 {
				return a, fmt.Errorf("field %d: %v", num, errWire)
			}
			*bytesField, b = v, b[n:]
		case wordField != nil && typ == varintType:
			v, n := consumeVarint(b)
			if n < 0 {
				return a, fmt.Errorf("field %d: %v", num, errWire)
			}
			if v > 1<<32-1 {
				return a, fmt.Errorf("field %d: %d overflows uint32", num, v)
			}
			*wordField, b = uint32(v), b[n:]
		case bytesField != nil || wordField != nil:
			return a, fmt.Errorf("field %d has wire type %d", num, typ)
		default: // A field of a later format: skip it.
			n := skipValue(typ, b)
			if n < 0 {
				return a, fmt.Errorf("field %d: %v", num, errWire)
			}
			b = b[n:]
		}
	}
	return a, nil
}

// nameAt returns module i's name straight from its raw message, without decoding the rest.
// The writer puts the name first, so this costs a few instructions; "" means a nameless or
// corrupt module.
func (ix *Index) nameAt(i int) string {
	b := ix.raw(i)
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == 1 && typ == bytesType {
			v, n := consumeBytes(b)
			if n < 0 {
				return ""
			}
			return inPlace(v)
		}
		n = skipValue(typ, b)
		if n < 0 {
			return ""
		}
		b = b[n:]
	}
	return ""
}

// Validate checks every module of the index: a name, names in order (ByName searches them), a
// path inside the module root, dependency indices in range. Decode leaves these checks to the
// first use of each module, so that opening a 4,000-module index costs microseconds; tools that
// write or vet an index call Validate.
func (ix *Index) Validate() error {
	if err := ix.table.Validate(); err != nil {
		return fmt.Errorf("module index %s: %w", ix.source, err)
	}
	prev := ""
	for i := range ix.offs {
		name := ix.nameAt(i)
		if i > 0 && prev >= name {
			return corrupt(ix.source, "modules not sorted by name at %q", name)
		}
		if _, err := ix.Module(i); err != nil {
			return err
		}
		prev = name
	}
	return nil
}

var (
	dotElem   = []byte("/.")
	emptyElem = []byte("//")
)

// checkPath refuses module paths that would reach outside the module root: absolute paths,
// and paths with an empty, "." or ".." element. It runs for every module at every Open, so it
// scans the bytes once instead of calling path.Clean.
func checkPath(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if p[0] == '/' {
		return fmt.Errorf("path %q is absolute", p)
	}
	// Fast path: without "/." or a leading '.', there is no "." or ".." element; without "//"
	// or a trailing '/', no empty one.
	if p[0] != '.' && p[len(p)-1] != '/' && !bytes.Contains(p, dotElem) &&
		!bytes.Contains(p, emptyElem) && bytes.IndexByte(p, 0) < 0 {
		return nil
	}
	start := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			if p[i] == 0 {
				return fmt.Errorf("path %q contains a NUL byte", p)
			}
			continue
		}
		switch string(p[start:i]) {
		case "", ".", "..":
			return fmt.Errorf("path %q is not a clean path inside the module root", p)
		}
		start = i + 1
	}
	return nil
}

// inPlace makes a string that shares b's memory. Decode's data is immutable (a read-only mapping
// or a buffer the caller promised not to change), so strings into it are safe, and the 4,000
// module names of a full index then cost no allocation at each Open.
func inPlace(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Source returns the file name the index was read from.
func (ix *Index) Source() string { return ix.source }

// Release returns the kernel release the index was built for.
func (ix *Index) Release() string { return ix.release }

// Vermagic returns the modules' vermagic string.
func (ix *Index) Vermagic() string { return ix.vermagic }

// Subset reports whether the index covers only part of the kernel's modules.
func (ix *Index) Subset() bool { return ix.subset }

// NumModules returns the number of modules, loadable and built in.
func (ix *Index) NumModules() int { return len(ix.offs) }

// Name returns the name of module i.
func (ix *Index) Name(i int) string { return ix.nameAt(i) }

// Module returns module i, decoding it on first use.
func (ix *Index) Module(i int) (*Module, error) {
	if i < 0 || i >= len(ix.offs) {
		return nil, fmt.Errorf("module index %s: no module %d (have %d)", ix.source, i, len(ix.offs))
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if m := ix.decoded[i]; m != nil {
		return m, nil
	}
	m, err := decodeModule(ix.raw(i))
	if err != nil {
		return nil, corrupt(ix.source, "module %d (%q): %v", i, ix.nameAt(i), err)
	}
	if m.GetName() == "" {
		return nil, corrupt(ix.source, "module %d has no name", i)
	}
	if err := checkPath([]byte(m.GetPath())); err != nil {
		return nil, fmt.Errorf("module index %s: module %s: %w; refusing it (rebuild the index with mkmeta)", ix.source, m.GetName(), err)
	}
	for _, d := range m.GetDepends() {
		if int(d) >= len(ix.offs) {
			return nil, corrupt(ix.source, "module %s: dependency index %d out of range (have %d modules)", m.GetName(), d, len(ix.offs))
		}
	}
	ix.decoded[i] = m
	return m, nil
}

// NormalizeName spells a module name the way the kernel does, with '_' for '-'.
func NormalizeName(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}

// ByName finds a module, loadable or built in, by name ('-' and '_' are equivalent).
func (ix *Index) ByName(name string) (int, bool) {
	name = NormalizeName(name)
	i := sort.Search(len(ix.offs), func(i int) bool { return ix.nameAt(i) >= name })
	if i < len(ix.offs) && ix.nameAt(i) == name {
		return i, true
	}
	return 0, false
}

// Lookup returns every (pattern, module) pair whose alias pattern matches alias, loadable and
// built-in modules alike. A module appears once per matching pattern.
func (ix *Index) Lookup(alias string) ([]Match, error) {
	norm, err := modalias.Normalize(alias)
	if err != nil {
		return nil, fmt.Errorf("alias %q: %w", alias, err)
	}
	hits, err := ix.table.Lookup(norm, nil)
	if err != nil {
		return nil, fmt.Errorf("module index %s: %w", ix.source, err)
	}
	out := make([]Match, len(hits))
	for i, h := range hits {
		if int(h.Module) >= len(ix.offs) {
			return nil, corrupt(ix.source, "match table refers to module %d of %d", h.Module, len(ix.offs))
		}
		out[i] = Match{Module: int(h.Module), Name: ix.nameAt(int(h.Module)), Pattern: h.Pattern, Builtin: h.Builtin}
	}
	return out, nil
}

// Resolve answers a modprobe argument, a module name or an alias, as libkmod's
// kmod_module_new_from_lookup does (see the package documentation): the argument is
// normalized, then the first of these that yields anything wins: a loadable module of that
// name (never for an argument with ':', as in libkmod), the aliases of loadable modules, a
// built-in module of that name, the aliases of built-in modules. It returns a *NotFoundError
// when nothing answers, and an error for an argument that fails normalization.
func (ix *Index) Resolve(nameOrAlias string) ([]Match, error) {
	norm, err := modalias.Normalize(nameOrAlias)
	if err != nil {
		return nil, fmt.Errorf("alias %q: %w", nameOrAlias, err)
	}
	byName, named := ix.ByName(norm)
	var m *Module
	if named {
		if m, err = ix.Module(byName); err != nil {
			return nil, err
		}
		if !m.Builtin && !strings.Contains(norm, ":") {
			return []Match{{Module: byName, Name: m.Name}}, nil
		}
	}
	all, err := ix.Lookup(norm)
	if err != nil {
		return nil, err
	}
	var mods, builtins []Match
	for _, h := range all {
		if h.Builtin {
			builtins = append(builtins, h)
		} else {
			mods = append(mods, h)
		}
	}
	switch {
	case len(mods) > 0:
		return mods, nil
	case named && m.Builtin && !m.BuiltinUnlisted:
		return []Match{{Module: byName, Name: m.Name, Builtin: true}}, nil
	case len(builtins) > 0:
		return builtins, nil
	}
	return nil, &NotFoundError{Name: nameOrAlias, Source: ix.source, Subset: ix.subset}
}

// ErrCycle is wrapped by Closure when module dependencies form a cycle.
var ErrCycle = errors.New("dependency cycle")

// Closure returns the given modules and all their hard dependencies, each once, ordered so every
// module comes after all of its dependencies.
func (ix *Index) Closure(mods []int) ([]int, error) {
	const (
		unseen = iota
		visiting
		done
	)
	state := make(map[int]int)
	var order []int
	var visit func(i int, chain []string) error
	visit = func(i int, chain []string) error {
		switch state[i] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("module index %s: %w: %s", ix.source, ErrCycle, strings.Join(append(chain, ix.nameAt(i)), " -> "))
		}
		state[i] = visiting
		m, err := ix.Module(i)
		if err != nil {
			return err
		}
		for _, d := range m.GetDepends() {
			if err := visit(int(d), append(chain, ix.nameAt(i))); err != nil {
				return err
			}
		}
		state[i] = done
		order = append(order, i)
		return nil
	}
	for _, i := range mods {
		if i < 0 || i >= len(ix.offs) {
			return nil, fmt.Errorf("module index %s: no module %d (have %d)", ix.source, i, len(ix.offs))
		}
		if err := visit(i, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
