package modalias

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kmodboot/kmodboot/internal/aliascorpus"
	"github.com/kmodboot/kmodboot/internal/kmodref"
)

// kernelModel answers alias lookups the way kmod_module_new_from_lookup does, from a Table
// built out of depmod's text output: module names from modules.dep, then module aliases, then
// built-in module names (modules.builtin), then built-in aliases (modules.builtin.modinfo).
// There is no modprobe.d configuration (the oracle runs with none).
type kernelModel struct {
	tree              *kmodref.Tree
	table             *Table
	names             []string // module names by the index the table uses
	loadable, builtin map[string]bool
	patterns          []string // every raw alias pattern, modules' then built-ins'
	entries           []Entry
}

var (
	modelMu sync.Mutex
	models  = map[string]*kernelModel{}
)

// loadKernelModel prepares (once per test process) the depmod'ed tree of a kernel series
// and the table built from its aliases.
func loadKernelModel(t testing.TB, series string) *kernelModel {
	t.Helper()
	modelMu.Lock()
	defer modelMu.Unlock()
	if m, ok := models[series]; ok {
		return m
	}
	tree, err := kmodref.DepmodTree(series)
	if err != nil {
		t.Fatalf("prepare Linux %s with depmod: %v", series, err)
	}
	m := &kernelModel{tree: tree}
	m.loadable, m.builtin, err = kmodref.ReadModuleNames(tree.ModDir)
	if err != nil {
		t.Fatalf("read module names of %s: %v", tree.ModDir, err)
	}
	modAliases, err := kmodref.ReadModulesAlias(tree.ModDir)
	if err != nil {
		t.Fatalf("read modules.alias: %v", err)
	}
	builtinAliases, err := kmodref.ReadBuiltinAliases(tree.ModDir)
	if err != nil {
		t.Fatalf("read modules.builtin.modinfo: %v", err)
	}
	index := map[string]uint32{}
	add := func(a kmodref.AliasLine, builtin bool) {
		i, ok := index[a.Module]
		if !ok {
			i = uint32(len(m.names))
			index[a.Module] = i
			m.names = append(m.names, a.Module)
		}
		m.entries = append(m.entries, Entry{Pattern: a.Pattern, Module: i, Builtin: builtin})
		m.patterns = append(m.patterns, a.Pattern)
	}
	for _, a := range modAliases {
		add(a, false)
	}
	for _, a := range builtinAliases {
		add(a, true)
	}
	m.table = mustTable(t, m.entries)
	models[series] = m
	return m
}

// resolve returns the sorted, distinct module names kmod would return for raw, or
// errno 22 (EINVAL) for an alias that fails normalization.
func (m *kernelModel) resolve(raw string) (mods []string, errno int) {
	alias, err := Normalize(raw)
	if err != nil {
		return nil, 22
	}
	if !strings.Contains(alias, ":") && m.loadable[alias] {
		return []string{alias}, 0
	}
	var modHits, builtinHits []string
	hits, err := m.table.Lookup(alias, nil)
	if err != nil {
		panic(err) // A table Build just made is never corrupt.
	}
	for _, h := range hits {
		if h.Builtin {
			builtinHits = append(builtinHits, m.names[h.Module])
		} else {
			modHits = append(modHits, m.names[h.Module])
		}
	}
	switch {
	case len(modHits) > 0:
		mods = modHits
	case m.builtin[alias]:
		mods = []string{alias}
	default:
		mods = builtinHits
	}
	slices.Sort(mods)
	return slices.Compact(mods), 0
}

// qemuModaliases reads testdata/qemu-modaliases.txt: real modaliases of QEMU machines.
func qemuModaliases(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/qemu-modaliases.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var res []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		alias, _, _ := strings.Cut(line, "\t")
		res = append(res, alias)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return res
}

// conformanceCorpus is what the conformance test asks both kmod and the model: two matching
// strings and a set of near misses per pattern, the QEMU machines' real modaliases, module
// names (to exercise kmod's precedence) and a few malformed aliases.
func conformanceCorpus(t testing.TB, m *kernelModel) []string {
	corpus := aliascorpus.Generate(m.patterns, aliascorpus.Options{Seed: 1, Matches: 2, NearMisses: true})
	corpus = append(corpus, qemuModaliases(t)...)
	corpus = append(corpus, kmodref.SortedKeys(m.builtin)...)
	for i, name := range kmodref.SortedKeys(m.loadable) {
		if i%10 == 0 {
			corpus = append(corpus, name, strings.ReplaceAll(name, "_", "-"))
		}
	}
	corpus = append(corpus, "", "*", "?", "[", "]", "a[b]c", "pci:*", "usb:v*", "fs-ext4", "crypto-crc32c",
		"char-major-10-229", "devname:fuse", "net-pf-10", strings.Repeat("pci:v", 1000))
	var out []string
	seen := map[string]bool{}
	for _, s := range corpus {
		// kmod's "symbol:" lookups read modules.symbols, which this package does not model.
		if seen[s] || strings.ContainsAny(s, "\n\x00") || strings.HasPrefix(strings.ReplaceAll(s, "-", "_"), "symbol:") {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// TestConformanceWithKmod builds a table from depmod's view of the real Debian kernels and
// checks that, for every string of a large corpus, it finds exactly the modules libkmod's
// kmod_module_new_from_lookup finds.
func TestConformanceWithKmod(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance with libkmod on real kernel trees: skipped with -short")
	}
	o := kmodOracle(t)
	for _, series := range []string{"6.1", "6.12"} {
		t.Run(series, func(t *testing.T) {
			m := loadKernelModel(t, series)
			corpus := conformanceCorpus(t, m)
			want, err := o.Resolve(m.tree.ModDir, corpus)
			if err != nil {
				t.Fatal(err)
			}
			bad, found := 0, 0
			for _, alias := range corpus {
				w, ok := want[alias]
				if !ok {
					t.Fatalf("kmodref gave no answer for %q", alias)
				}
				got, errno := m.resolve(alias)
				if len(got) > 0 {
					found++
				}
				if errno != w.Errno || !slices.Equal(got, w.Modules) {
					if bad++; bad <= 20 {
						t.Errorf("lookup(%q) = %v (errno %d), kmod says %v (errno %d)", alias, got, errno, w.Modules, w.Errno)
					}
				}
			}
			t.Logf("Linux %s (%s): %d patterns, table %d bytes; compared %d strings (%d found modules), %d differences",
				series, m.tree.Release, len(m.entries), tableBytes(t, m.entries), len(corpus), found, bad)
		})
	}
}

// TestQEMUModaliases pins what real QEMU devices resolve to, so that a regression in both kmod
// and the corpus would still be caught, and checks each answer against libkmod.
func TestQEMUModaliases(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real kernel trees: skipped with -short")
	}
	o := kmodOracle(t)
	tests := []struct {
		series, alias string
		want          []string
	}{
		{"6.1", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", []string{"virtio_pci"}}, // virtio-net-pci
		{"6.1", "virtio:d00000001v00001AF4", []string{"virtio_net"}},
		{"6.1", "pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00", []string{"8139cp", "8139too"}}, // rtl8139
		{"6.1", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00", []string{"e1000"}},
		{"6.1", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", []string{"e1000e"}},
		{"6.1", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", []string{"ahci"}},
		{"6.1", "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02", []string{"nvme"}},
		{"6.1", "virtio:d00000002v00001AF4", []string{"virtio_blk"}},
		{"6.1", "virtio:d00000008v00001AF4", []string{"virtio_scsi"}},
		{"6.1", "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00", []string{"uas", "usb_storage"}},
		{"6.1", "hid:b0003g0001v00000627p00000001", []string{"hid_generic"}},
		{"6.1", "dmi:bvnSeaBIOS:bvr1.16.2-debian-1.16.2-1:bd04/01/2014:br0.0:svnQEMU:pnStandardPC(i440FX+PIIX,1996):pvrpc-i440fx-7.2:cvnQEMU:ct1:cvrpc-i440fx-7.2:sku:", nil},
		{"6.12", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", nil}, // virtio_pci is built in, its table is not in modinfo
		{"6.12", "virtio:d00000001v00001AF4", []string{"virtio_net"}},
		{"6.12", "pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00", []string{"8139cp", "8139too"}},
	}
	for _, tc := range tests {
		t.Run(tc.series+"/"+tc.alias, func(t *testing.T) {
			m := loadKernelModel(t, tc.series)
			got, _ := m.resolve(tc.alias)
			if !slices.Equal(got, tc.want) {
				t.Errorf("lookup(%q) on Linux %s = %v, want %v", tc.alias, tc.series, got, tc.want)
			}
			kmod, err := o.Resolve(m.tree.ModDir, []string{tc.alias})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(kmod[tc.alias].Modules, tc.want) {
				t.Errorf("kmod on Linux %s resolves %q to %v, the test expects %v", tc.series, tc.alias, kmod[tc.alias].Modules, tc.want)
			}
		})
	}
}

// tableBytes is the size of the table's arrays as stored in meta.pb.
func tableBytes(t testing.TB, entries []Entry) int {
	mt, err := Build(entries)
	if err != nil {
		t.Fatal(err)
	}
	return len(mt.Strings) + len(mt.Nodes) + len(mt.Edges) + len(mt.Patterns) + len(mt.Grams)
}
