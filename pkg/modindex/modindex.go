package modindex

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/spec"
)

// Index is an opened meta.pb. It is safe for concurrent use.
type Index struct {
	source   string
	version  uint32
	release  string
	vermagic string
	subset   bool
	raw      [][]byte // raw Module messages, in file order (sorted by name)
	names    []string // module names, parallel to raw
	table    *modalias.Table

	mu      sync.Mutex     // mu guards decoded.
	decoded []*spec.Module // decoded[i] is raw[i] decoded on first use.
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

// Open reads and decodes the meta.pb at path.
func Open(path string) (*Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open module index: %w (build one with mkmeta, or pass -meta FILE)", err)
	}
	return Decode(data, path)
}

// corrupt wraps a decoding problem in an error that names the file and what to do.
func corrupt(source, format string, args ...any) error {
	return fmt.Errorf("module index %s is corrupt: %s (rebuild it with mkmeta)", source, fmt.Sprintf(format, args...))
}

// Decode decodes a meta.pb held in data; source names it in errors. Decode keeps references
// into data, which must not be modified afterwards.
func Decode(data []byte, source string) (*Index, error) {
	ix := &Index{source: source}
	var match []byte
	var haveVersion bool
	b := data
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, corrupt(source, "bad field tag at byte %d: %v", len(data)-len(b), protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, corrupt(source, "bad format_version: %v", protowire.ParseError(n))
			}
			ix.version, haveVersion, b = uint32(v), true, b[n:]
			continue
		case num == 6 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, corrupt(source, "bad subset flag: %v", protowire.ParseError(n))
			}
			ix.subset, b = v != 0, b[n:]
			continue
		case typ == protowire.BytesType && (num == 2 || num == 3 || num == 4 || num == 5):
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, corrupt(source, "field %d runs past the end of the file: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
			switch num {
			case 2:
				ix.release = string(v)
			case 3:
				ix.vermagic = string(v)
			case 4:
				ix.raw = append(ix.raw, v)
			case 5:
				match = v
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, corrupt(source, "bad field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	if !haveVersion {
		return nil, fmt.Errorf("%s is not a meta.pb module index (no format version; is it another file?)", source)
	}
	if ix.version != spec.FormatVersion {
		return nil, fmt.Errorf("module index %s has format version %d, this program reads version %d: rebuild it with this release's mkmeta", source, ix.version, spec.FormatVersion)
	}
	if err := ix.scanModules(); err != nil {
		return nil, err
	}
	var mt spec.MatchTable
	if err := (proto.UnmarshalOptions{}).Unmarshal(match, &mt); err != nil {
		return nil, corrupt(source, "match table: %v", err)
	}
	t, err := modalias.NewTable(&mt)
	if err != nil {
		return nil, corrupt(source, "match table: %v", err)
	}
	ix.table = t
	ix.decoded = make([]*spec.Module, len(ix.raw))
	return ix, nil
}

// scanModules reads name, path and depends of every raw module without decoding it, and refuses
// what would make the index unsafe or ambiguous to use.
func (ix *Index) scanModules() error {
	ix.names = make([]string, len(ix.raw))
	for i, m := range ix.raw {
		var name, p string
		b := m
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return corrupt(ix.source, "module %d: bad field tag: %v", i, protowire.ParseError(n))
			}
			b = b[n:]
			switch {
			case (num == 1 || num == 2) && typ == protowire.BytesType:
				v, n := protowire.ConsumeBytes(b)
				if n < 0 {
					return corrupt(ix.source, "module %d: field %d: %v", i, num, protowire.ParseError(n))
				}
				if num == 1 {
					name = string(v)
				} else {
					p = string(v)
				}
				b = b[n:]
			case num == 4 && typ == protowire.BytesType: // packed depends
				v, n := protowire.ConsumeBytes(b)
				if n < 0 {
					return corrupt(ix.source, "module %d: depends: %v", i, protowire.ParseError(n))
				}
				for len(v) > 0 {
					d, k := protowire.ConsumeVarint(v)
					if k < 0 || d >= uint64(len(ix.raw)) {
						return corrupt(ix.source, "module %d: dependency index out of range", i)
					}
					v = v[k:]
				}
				b = b[n:]
			case num == 4 && typ == protowire.VarintType:
				d, n := protowire.ConsumeVarint(b)
				if n < 0 || d >= uint64(len(ix.raw)) {
					return corrupt(ix.source, "module %d: dependency index out of range", i)
				}
				b = b[n:]
			default:
				n = protowire.ConsumeFieldValue(num, typ, b)
				if n < 0 {
					return corrupt(ix.source, "module %d: field %d: %v", i, num, protowire.ParseError(n))
				}
				b = b[n:]
			}
		}
		if name == "" {
			return corrupt(ix.source, "module %d has no name", i)
		}
		if i > 0 && ix.names[i-1] >= name {
			return corrupt(ix.source, "modules not sorted by name at %q", name)
		}
		if err := checkPath(p); err != nil {
			return fmt.Errorf("module index %s: module %s: %w; refusing the index (rebuild it with mkmeta)", ix.source, name, err)
		}
		ix.names[i] = name
	}
	return nil
}

// checkPath refuses module paths that would reach outside the module root.
func checkPath(p string) error {
	if p == "" {
		return nil
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q is absolute", p)
	}
	if strings.ContainsRune(p, 0) {
		return fmt.Errorf("path %q contains a NUL byte", p)
	}
	if path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("path %q is not a clean path inside the module root", p)
	}
	return nil
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
func (ix *Index) NumModules() int { return len(ix.raw) }

// Name returns the name of module i.
func (ix *Index) Name(i int) string { return ix.names[i] }

// Module returns module i, decoding it on first use.
func (ix *Index) Module(i int) (*spec.Module, error) {
	if i < 0 || i >= len(ix.raw) {
		return nil, fmt.Errorf("module index %s: no module %d (have %d)", ix.source, i, len(ix.raw))
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if m := ix.decoded[i]; m != nil {
		return m, nil
	}
	m := new(spec.Module)
	if err := proto.Unmarshal(ix.raw[i], m); err != nil {
		return nil, corrupt(ix.source, "module %s: %v", ix.names[i], err)
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
	i := sort.SearchStrings(ix.names, name)
	if i < len(ix.names) && ix.names[i] == name {
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
	hits := ix.table.Lookup(norm, nil)
	out := make([]Match, len(hits))
	for i, h := range hits {
		if int(h.Module) >= len(ix.names) {
			return nil, corrupt(ix.source, "match table refers to module %d of %d", h.Module, len(ix.names))
		}
		out[i] = Match{Module: int(h.Module), Name: ix.names[h.Module], Pattern: h.Pattern, Builtin: h.Builtin}
	}
	return out, nil
}

// Resolve answers a modprobe argument, a module name or an alias, in libkmod's order (see the
// package documentation). It returns a *NotFoundError when nothing answers.
func (ix *Index) Resolve(nameOrAlias string) ([]Match, error) {
	if i, ok := ix.ByName(nameOrAlias); ok {
		if m, err := ix.Module(i); err != nil {
			return nil, err
		} else if !m.GetBuiltin() {
			return []Match{{Module: i, Name: ix.names[i]}}, nil
		}
	}
	all, err := ix.Lookup(nameOrAlias)
	if err != nil {
		return nil, err
	}
	var mods, builtins []Match
	for _, m := range all {
		if m.Builtin {
			builtins = append(builtins, m)
		} else {
			mods = append(mods, m)
		}
	}
	switch {
	case len(mods) > 0:
		return mods, nil
	case len(builtins) > 0:
		return builtins, nil
	}
	if i, ok := ix.ByName(nameOrAlias); ok {
		return []Match{{Module: i, Name: ix.names[i], Builtin: true}}, nil
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
			return fmt.Errorf("module index %s: %w: %s", ix.source, ErrCycle, strings.Join(append(chain, ix.names[i]), " -> "))
		}
		state[i] = visiting
		m, err := ix.Module(i)
		if err != nil {
			return err
		}
		for _, d := range m.GetDepends() {
			if err := visit(int(d), append(chain, ix.names[i])); err != nil {
				return err
			}
		}
		state[i] = done
		order = append(order, i)
		return nil
	}
	for _, i := range mods {
		if i < 0 || i >= len(ix.raw) {
			return nil, fmt.Errorf("module index %s: no module %d (have %d)", ix.source, i, len(ix.raw))
		}
		if err := visit(i, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
