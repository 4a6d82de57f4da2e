package modalias

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kmodboot/kmodboot/internal/aliascorpus"
	"github.com/kmodboot/kmodboot/spec"
	"google.golang.org/protobuf/proto"
)

// realAliases is testdata/modules.alias-6.1.gz: depmod's modules.alias for Debian's Linux 6.1
// (6.1.0-56-amd64), 26,222 alias lines of 4,023 modules.
type realAliases struct {
	entries []Entry
	modules []string // module names by index
	lines   []string // the raw patterns, in file order
}

var (
	realOnce sync.Once
	real     realAliases
	realErr  error
)

func loadRealAliases(t testing.TB) realAliases {
	t.Helper()
	realOnce.Do(func() {
		f, err := os.Open("testdata/modules.alias-6.1.gz")
		if err != nil {
			realErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			realErr = err
			return
		}
		data, err := io.ReadAll(zr)
		if err != nil {
			realErr = err
			return
		}
		real = aliasesFromText(string(data))
	})
	if realErr != nil {
		t.Fatalf("read testdata/modules.alias-6.1.gz: %v", realErr)
	}
	return real
}

// aliasesFromText parses modules.alias text into entries, numbering modules by first use.
func aliasesFromText(data string) realAliases {
	var r realAliases
	index := map[string]uint32{}
	for line := range strings.SplitSeq(data, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		m, ok := index[f[2]]
		if !ok {
			m = uint32(len(r.modules))
			index[f[2]] = m
			r.modules = append(r.modules, f[2])
		}
		r.entries = append(r.entries, Entry{Pattern: f[1], Module: m})
		r.lines = append(r.lines, f[1])
	}
	return r
}

// bruteForce answers lookups by trying every normalized pattern whose literal prefix is a
// prefix of the alias, with MatchAlias: no trie, no prefilter, no gram table.
type bruteForce struct {
	byPrefix map[string][]Entry // normalized entries by literal prefix
}

func newBruteForce(entries []Entry) *bruteForce {
	b := &bruteForce{byPrefix: map[string][]Entry{}}
	seen := map[Entry]bool{}
	for _, e := range entries {
		n, err := Normalize(e.Pattern)
		if err != nil {
			continue
		}
		e.Pattern = n
		if seen[e] {
			continue
		}
		seen[e] = true
		k := strings.IndexAny(n, "*?[")
		if k < 0 {
			k = len(n)
		}
		b.byPrefix[n[:k]] = append(b.byPrefix[n[:k]], e)
	}
	return b
}

func (b *bruteForce) lookup(alias string) []Hit {
	var hits []Hit
	for i := 0; i <= len(alias); i++ {
		for _, e := range b.byPrefix[alias[:i]] {
			if MatchAlias(e.Pattern, alias) {
				hits = append(hits, Hit{e.Pattern, e.Module, e.Builtin})
			}
		}
	}
	sortHits(hits)
	return hits
}

func sortHits(h []Hit) {
	slices.SortFunc(h, func(a, b Hit) int {
		if c := strings.Compare(a.Pattern, b.Pattern); c != 0 {
			return c
		}
		if a.Module != b.Module {
			return int(int64(a.Module) - int64(b.Module))
		}
		if a.Builtin != b.Builtin {
			if a.Builtin {
				return 1
			}
			return -1
		}
		return 0
	})
}

// mustTable builds and loads a table, round-tripping it through protobuf encoding the way
// meta.pb stores it.
func mustTable(t testing.TB, entries []Entry) *Table {
	t.Helper()
	mt, err := Build(entries)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	data, err := proto.Marshal(toSpec(mt))
	if err != nil {
		t.Fatalf("proto.Marshal: %v", err)
	}
	var back spec.MatchTable
	if err := proto.Unmarshal(data, &back); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	tab, err := NewTable(fromSpec(&back))
	if err == nil {
		err = tab.Validate()
	}
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return tab
}

func lookupSorted(tab *Table, alias string) []Hit {
	hits, err := tab.Lookup(alias, nil)
	if err != nil {
		panic(fmt.Sprintf("Lookup(%q) on a valid table: %v", alias, err))
	}
	sortHits(hits)
	return hits
}

func TestLookup(t *testing.T) {
	entries := []Entry{
		{"pci:v00001AF4d00001000sv*sd*bc*sc*i*", 0, false}, // virtio_pci-ish
		{"pci:v*d*sv*sd*bc02sc00i*", 1, false},             // a class match
		{"pci:v000010ECd00008139sv*sd*bc*sc*i*", 2, false}, // 8139cp
		{"pci:v000010ECd00008139sv*sd*bc*sc*i*", 3, false}, // 8139too, same pattern
		{"pci:v000010ECd00008139sv*sd*bc*sc*i*", 3, false}, // duplicate: kept once
		{"fs-ext4", 4, false},                              // normalized to fs_ext4
		{"crypto-crc32c", 5, true},                         // built in
		{"crypto-crc32c", 6, false},                        // and a module
		{"usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*", 7, false},
		{"bad]pattern", 8, false}, // dropped, like depmod does
		{"a[b", 8, false},         // dropped
		{"", 9, false},            // the empty pattern matches the empty alias
		{"*", 10, false},          // and a lone '*' everything
		{`x\*y`, 11, false},       // backslash in the literal prefix is a plain byte
	}
	tab := mustTable(t, entries)
	star := Hit{"*", 10, false}
	tests := []struct {
		alias string
		want  []Hit
	}{
		{"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", []Hit{
			star, {"pci:v*d*sv*sd*bc02sc00i*", 1, false}, {"pci:v00001AF4d00001000sv*sd*bc*sc*i*", 0, false}}},
		{"pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00", []Hit{
			star, {"pci:v*d*sv*sd*bc02sc00i*", 1, false},
			{"pci:v000010ECd00008139sv*sd*bc*sc*i*", 2, false}, {"pci:v000010ECd00008139sv*sd*bc*sc*i*", 3, false}}},
		{"fs_ext4", []Hit{star, {"fs_ext4", 4, false}}},
		{"fs_ext", []Hit{star}},
		{"crypto_crc32c", []Hit{star, {"crypto_crc32c", 5, true}, {"crypto_crc32c", 6, false}}},
		{"usb:v13FDp3940d0100dc00dsc00dp00ic08isc06ip50in00", []Hit{
			star, {"usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*", 7, false}}},
		{"usb:v13FDp3940d0300dc00dsc00dp00ic08isc06ip50in00", []Hit{star}},
		{"", []Hit{{"", 9, false}, star}},
		{`x\zy`, []Hit{star, {`x\*y`, 11, false}}},
		{`x*y`, []Hit{star}},
	}
	for _, tc := range tests {
		t.Run(tc.alias, func(t *testing.T) {
			sortHits(tc.want)
			if diff := cmp.Diff(tc.want, lookupSorted(tab, tc.alias)); diff != "" {
				t.Errorf("Lookup(%q) mismatch (-want +got):\n%s", tc.alias, diff)
			}
		})
	}
	if got, want := tab.Len(), 11; got != want {
		t.Errorf("Len() = %d, want %d (duplicates and bad patterns dropped)", got, want)
	}
}

// TestLookupAnchored builds one node with many wildcard patterns, so that it gets a gram
// table, and checks lookups through it against brute force.
func TestLookupAnchored(t *testing.T) {
	var entries []Entry
	for i := range 200 {
		entries = append(entries,
			Entry{fmt.Sprintf("of:N*T*Cvendor%d,chip%dC*", i, i*7), uint32(i), false},
			Entry{fmt.Sprintf("of:N*T*Cvendor%d,chip%d", i, i*7), uint32(i), false},
			Entry{fmt.Sprintf("of:N*T*C?endor%d", i), uint32(i), false}, // no 4-byte run after '?'... mostly
		)
	}
	entries = append(entries, Entry{"of:N*T*C*", 999, false}, Entry{"of:N*", 998, false})
	tab := mustTable(t, entries)
	bf := newBruteForce(entries)
	for _, alias := range []string{
		"of:NfooT(null)Cvendor7,chip49", "of:NfooT(null)Cvendor7,chip49Cgeneric",
		"of:NT<NULL>Cvendor17,chip119Cvendor7,chip49", "of:N", "of:NTC", "of:NTCvendor1",
		"of:NTCvendor1,chip7vendor1,chip7", "of:Nvendor1,chip7TCx",
	} {
		if diff := cmp.Diff(bf.lookup(alias), lookupSorted(tab, alias)); diff != "" {
			t.Errorf("Lookup(%q) mismatch with brute force (-want +got):\n%s", alias, diff)
		}
	}
	anchored := 0
	for n := range tab.nNodes {
		anchored += tab.node(n).anchored
	}
	if anchored < 400 {
		t.Errorf("only %d patterns anchored; the gram table is not being exercised", anchored)
	}
}

// TestLookupRealPatterns compares Lookup with brute force on Linux 6.1's real patterns and a
// corpus of matching strings and near misses generated from them.
func TestLookupRealPatterns(t *testing.T) {
	ra := loadRealAliases(t)
	tab := mustTable(t, ra.entries)
	bf := newBruteForce(ra.entries)
	opt := aliascorpus.Options{Seed: 7, Matches: 2, NearMisses: true}
	if testing.Short() {
		opt.Matches, opt.NearMisses = 1, false
	}
	corpus := aliascorpus.Generate(ra.lines, opt)
	bad, hits := 0, 0
	for _, raw := range corpus {
		alias, err := Normalize(raw)
		if err != nil {
			continue
		}
		want, got := bf.lookup(alias), lookupSorted(tab, alias)
		hits += len(got)
		if diff := cmp.Diff(want, got); diff != "" {
			if bad++; bad <= 20 {
				t.Errorf("Lookup(%q) mismatch with brute force (-want +got):\n%s", alias, diff)
			}
		}
	}
	t.Logf("compared %d strings (%d hits), %d differences", len(corpus), hits, bad)
}

func TestNewTableRejectsCorruption(t *testing.T) {
	good, err := Build([]Entry{{"pci:v*", 0, false}, {"usb:v1234p*", 1, false}, {"fs-ext4", 2, true}})
	if err != nil {
		t.Fatal(err)
	}
	const nodeWords = nodeSize / 4
	put := func(b []byte, word int, v uint32) []byte {
		b = slices.Clone(b)
		binary.LittleEndian.PutUint32(b[4*word:], v)
		return b
	}
	tests := []struct {
		name   string
		mutate func(mt *Arrays)
		want   error
	}{
		{"layout", func(mt *Arrays) { mt.Layout = 2 }, ErrLayout},
		{"no nodes", func(mt *Arrays) { mt.Nodes = nil }, ErrCorrupt},
		{"ragged nodes", func(mt *Arrays) { mt.Nodes = mt.Nodes[:len(mt.Nodes)-1] }, ErrCorrupt},
		{"edges short", func(mt *Arrays) { mt.Edges = mt.Edges[1:] }, ErrCorrupt},
		{"pattern count", func(mt *Arrays) { mt.PatternCount++ }, ErrCorrupt},
		{"label outside strings", func(mt *Arrays) { mt.Nodes = put(mt.Nodes, nodeWords+0, 1<<30) }, ErrCorrupt},
		{"root label", func(mt *Arrays) { mt.Nodes = put(mt.Nodes, 1, 1) }, ErrCorrupt},
		{"child is self", func(mt *Arrays) { mt.Nodes = put(mt.Nodes, 2, 0) }, ErrCorrupt},
		{"too many children", func(mt *Arrays) { mt.Nodes = put(mt.Nodes, 1, 300<<16) }, ErrCorrupt},
		{"children past end", func(mt *Arrays) { mt.Nodes = put(mt.Nodes, 1, 20<<16) }, ErrCorrupt},
		{"patterns past end", func(mt *Arrays) { mt.Nodes = put(mt.Nodes, 4, 1000) }, ErrCorrupt},
		{"patterns not in node order", func(mt *Arrays) { mt.Nodes = put(mt.Nodes, 3, 2) }, ErrCorrupt},
		{"gram table missing", func(mt *Arrays) {
			// Make the last node's patterns count as anchored: it has no gram table.
			last := len(mt.Nodes)/nodeSize - 1
			mt.Nodes = put(mt.Nodes, last*nodeWords+4, 0)
			mt.Nodes = put(mt.Nodes, last*nodeWords+5, 0)
		}, ErrCorrupt},
		{"pattern text", func(mt *Arrays) { mt.Patterns = put(mt.Patterns, 1, 1<<15) }, ErrCorrupt},
		{"prefix longer than text", func(mt *Arrays) { mt.Patterns = put(mt.Patterns, 1, 5|1000<<16) }, ErrCorrupt},
		{"ragged grams", func(mt *Arrays) { mt.Grams = []byte{1} }, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mt := cloneArrays(good)
			tc.mutate(&mt)
			tab, err := NewTable(mt)
			if err == nil {
				err = tab.Validate()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("NewTable+Validate(%s) = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
	if tab, err := NewTable(good); err != nil {
		t.Errorf("NewTable(good) = %v", err)
	} else if err := tab.Validate(); err != nil {
		t.Errorf("Validate(good) = %v", err)
	}
}

// fuzzTableEntries is a small pattern set that still has every kind of record: exact
// patterns, scanned ones, and an anchored node with a gram table.
func fuzzTableEntries() []Entry {
	return append(anchoredEntries(), []Entry{{"pci:v*d*sv*sd*bc02sc00i*", 1, false},
		{"fs-ext4", 2, true}, {"usb:v1d[0-2]*", 3, false}, {"fs-ext4", 4, false}}...)
}

// FuzzNewTable feeds corrupted match tables to NewTable: it may refuse them, but must neither
// panic nor hang, and a table it accepts must survive lookups. The input is either a whole
// encoded MatchTable, or a patch written over one array of a valid table (so that the
// corrupted table passes the coarse checks and exercises the record checks and Lookup).
func FuzzNewTable(f *testing.F) {
	good, err := Build(fuzzTableEntries())
	if err != nil {
		f.Fatal(err)
	}
	data, err := proto.Marshal(toSpec(good))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, uint8(0), uint32(0), []byte(nil))
	f.Add([]byte(nil), uint8(1), uint32(12), []byte{0xff, 0xff, 0, 0})
	f.Add([]byte(nil), uint8(2), uint32(28+24), []byte{1, 0, 0, 0})
	f.Add([]byte(nil), uint8(3), uint32(4), []byte{0, 0x10, 0, 0})
	f.Add([]byte(nil), uint8(4), uint32(20), []byte{0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, data []byte, field uint8, off uint32, patch []byte) {
		mt := cloneArrays(good)
		if field == 0 {
			var m spec.MatchTable
			if err := proto.Unmarshal(data, &m); err != nil {
				return
			}
			mt = fromSpec(&m)
		} else {
			arrays := []*[]byte{&mt.Strings, &mt.Nodes, &mt.Edges, &mt.Patterns, &mt.Grams}
			a := arrays[int(field)%len(arrays)]
			if int(field)/len(arrays)%2 == 1 && len(*a) > 0 {
				*a = (*a)[:int(off)%len(*a)] // Truncate instead of patching.
			} else if len(*a) > 0 {
				b := slices.Clone(*a)
				copy(b[int(off)%len(b):], patch)
				*a = b
			}
		}
		tab, err := NewTable(mt)
		if err != nil {
			return
		}
		valid := tab.Validate() == nil
		for _, alias := range []string{"", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
			"fs_ext4", "of:NT(null)Cvendor3,chip21", "of:NCvendor39,chip273Cvendor1,chip7", "usb:v1d1x",
			strings.Repeat("a", 300), strings.Repeat("of:N", 100)} {
			// A table Validate accepts must never make Lookup report corruption; any other
			// table may, but must not panic or hang.
			if _, err := tab.Lookup(alias, nil); err != nil && valid {
				t.Fatalf("Lookup(%q) on a validated table: %v", alias, err)
			}
		}
		for range tab.All() {
		}
	})
}

// anchoredEntries returns a pattern set whose "of:N" node gets a gram table.
func anchoredEntries() []Entry {
	var entries []Entry
	for i := range 40 {
		entries = append(entries, Entry{fmt.Sprintf("of:N*T*Cvendor%d,chip%dC*", i, i*7), uint32(i), false})
	}
	return entries
}

// FuzzLookup builds tables from fuzzed pattern sets and checks every lookup against brute
// force over the same patterns.
func FuzzLookup(f *testing.F) {
	f.Add("pci:v*d*sv*sd*bc02sc00i*\nfs-ext4\nusb:v1d[0-2]*\na*b*c", "pci:v1d2sv3sd4bc02sc00i00")
	f.Add("of:N*T*Cv1,c1C*\nof:N*T*Cv2,c2C*\nof:N*T*Cv3,c3\nof:N*T*Cv4,c4C*\nof:N*T*Cv5,c5C*\n"+
		"of:N*T*Cv6,c6C*\nof:N*T*Cv7,c7C*\nof:N*T*Cv8,c8C*\nof:N*T*Cv9,c9C*\nof:N*T*Cv10,c10C*\n"+
		"of:N*T*Cv11,c11C*\nof:N*T*Cv12,c12C*\nof:N*T*C?1,c1*", "of:NxTyCv1,c1Cv3,c3")
	f.Add("a\\*b\n[\n*[[\n?\n*", "a\\xb")
	f.Fuzz(func(t *testing.T, patterns, alias string) {
		if len(patterns) > 2000 || len(alias) > 200 {
			return
		}
		var entries []Entry
		for i, p := range strings.Split(patterns, "\n") {
			entries = append(entries, Entry{p, uint32(i % 5), i%3 == 0})
		}
		mt, err := Build(entries)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		tab, err := NewTable(mt)
		if err != nil {
			t.Fatalf("NewTable(Build(...)): %v", err)
		}
		norm, err := Normalize(alias)
		if err != nil {
			return
		}
		want := newBruteForce(entries).lookup(norm)
		if diff := cmp.Diff(want, lookupSorted(tab, norm)); diff != "" {
			t.Errorf("Lookup(%q) mismatch with brute force (-want +got):\n%s", norm, diff)
		}
	})
}

func TestMatchSimple(t *testing.T) {
	for _, tc := range []struct{ p, s string }{
		{"*", ""}, {"*a", "a"}, {"*a", "ba"}, {"*a", "ab"}, {"*a*", "xay"}, {"*ab*ab", "abab"},
		{"*ab*ab", "ab"}, {"*ab*ab", "aab"}, {"x*", "x"}, {"x*", "yx"}, {"x", "x"}, {"*dc*dsc*", "dscdc"},
		{"**a**b", "ab"}, {"*aa", "aaa"}, {"*aa*aa", "aaa"}, {"*aa*aa", "aaaa"},
	} {
		if got, want := matchSimple(tc.p, tc.s), Fnmatch(tc.p, tc.s); got != want {
			t.Errorf("matchSimple(%q, %q) = %v, Fnmatch says %v", tc.p, tc.s, got, want)
		}
	}
}

// toSpec and fromSpec convert between the package's Arrays and meta.pb's MatchTable message,
// which has the same fields; the tests check the round trip through protobuf.
func toSpec(a Arrays) *spec.MatchTable {
	return &spec.MatchTable{Layout: a.Layout, Strings: a.Strings, Nodes: a.Nodes, Edges: a.Edges,
		Patterns: a.Patterns, PatternCount: a.PatternCount, Grams: a.Grams}
}

func fromSpec(m *spec.MatchTable) Arrays {
	return Arrays{Layout: m.GetLayout(), Strings: m.GetStrings(), Nodes: m.GetNodes(), Edges: m.GetEdges(),
		Patterns: m.GetPatterns(), PatternCount: m.GetPatternCount(), Grams: m.GetGrams()}
}

func cloneArrays(a Arrays) Arrays {
	return Arrays{Layout: a.Layout, Strings: slices.Clone(a.Strings), Nodes: slices.Clone(a.Nodes),
		Edges: slices.Clone(a.Edges), Patterns: slices.Clone(a.Patterns), PatternCount: a.PatternCount,
		Grams: slices.Clone(a.Grams)}
}

// TestArraysMatchSpec keeps Arrays and spec.MatchTable field for field alike, so that
// modindex can fill Arrays from meta.pb without importing spec.
func TestArraysMatchSpec(t *testing.T) {
	a := Arrays{Layout: 1, Strings: []byte("s"), Nodes: []byte("n"), Edges: []byte("e"),
		Patterns: []byte("p"), PatternCount: 2, Grams: []byte("g")}
	if diff := cmp.Diff(a, fromSpec(toSpec(a))); diff != "" {
		t.Errorf("Arrays round trip through spec.MatchTable (-want +got):\n%s", diff)
	}
	if got, want := (&spec.MatchTable{}).ProtoReflect().Descriptor().Fields().Len(), 7; got != want {
		t.Errorf("spec.MatchTable has %d fields, Arrays has %d: keep them alike", got, want)
	}
}
