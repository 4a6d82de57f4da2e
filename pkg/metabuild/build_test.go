package metabuild

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/spec"
)

// The fixture tree holds real Debian 6.1 modules: a crct10dif family whose crc_t10dif has
// "softdep pre: crct10dif" (an alias of crct10dif_generic and crct10dif-pclmul), libcrc32c
// ("pre: crc32c") with crc32c_generic, pvpanic-pci depending on pvpanic, and one module each
// for the nic, storage and fs classes. modules.builtin{,.modinfo} are real excerpts.
const (
	fixtureRelease  = "6.1.0-56-amd64"
	fixtureVermagic = "6.1.0-56-amd64 SMP preempt mod_unload modversions "
)

var fixtureRoot = filepath.Join("testdata", "tree", "lib", "modules", fixtureRelease)

// copyTree copies the fixture tree into a temporary directory and returns its module root,
// so a test can add or break files.
func copyTree(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "lib", "modules", fixtureRelease)
	err := filepath.WalkDir(fixtureRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(fixtureRoot, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// build runs BuildStats with no configuration directories unless opts says otherwise.
func build(t *testing.T, opts Options) (*spec.Index, *Stats) {
	t.Helper()
	if opts.ConfigDirs == nil {
		opts.ConfigDirs = []string{}
	}
	opts.Logf = t.Logf
	idx, st, err := BuildStats(opts)
	if err != nil {
		t.Fatalf("BuildStats(%s): %v", opts.ModuleRoot, err)
	}
	return idx, st
}

// moduleNames returns the names of idx's modules, in index order.
func moduleNames(idx *spec.Index) []string {
	var names []string
	for _, m := range idx.GetModules() {
		names = append(names, m.GetName())
	}
	return names
}

// byName returns the module called name, failing the test if there is none.
func byName(t *testing.T, idx *spec.Index, name string) *spec.Module {
	t.Helper()
	for _, m := range idx.GetModules() {
		if m.GetName() == name {
			return m
		}
	}
	t.Fatalf("index has no module %s; it has %q", name, moduleNames(idx))
	return nil
}

// depNames returns the names of m's direct dependencies.
func depNames(idx *spec.Index, m *spec.Module) []string {
	var names []string
	for _, d := range m.GetDepends() {
		names = append(names, idx.GetModules()[d].GetName())
	}
	return names
}

func TestBuildFixtureTree(t *testing.T) {
	idx, st := build(t, Options{ModuleRoot: fixtureRoot})
	wantNames := []string{
		"cavium_ptp", "crc32c_generic", "crc_t10dif", "crct10dif_common", "crct10dif_generic",
		"crct10dif_pclmul", "debugfs", "libcrc32c", "md5", "nls_koi8_ru", "nls_utf8", "pvpanic",
		"pvpanic_pci", "scsi_common", "sha256_generic", "virtio_dma_buf", "zbud",
	}
	if diff := cmp.Diff(wantNames, moduleNames(idx)); diff != "" {
		t.Errorf("module names (-want +got):\n%s", diff)
	}
	if got := idx.GetKernelRelease(); got != fixtureRelease {
		t.Errorf("KernelRelease = %q, want %q", got, fixtureRelease)
	}
	if got := idx.GetVermagic(); got != fixtureVermagic {
		t.Errorf("Vermagic = %q, want %q", got, fixtureVermagic)
	}
	if idx.GetFormatVersion() != spec.FormatVersion || idx.GetSubset() || len(idx.GetSelection()) != 0 {
		t.Errorf("FormatVersion, Subset, Selection = %d, %v, %q; want %d, false, none",
			idx.GetFormatVersion(), idx.GetSubset(), idx.GetSelection(), spec.FormatVersion)
	}
	if idx.GetMatch() == nil || idx.GetMatch().GetPatternCount() == 0 {
		t.Errorf("Match = %v, want a table with patterns", idx.GetMatch())
	}
	wantStats := Stats{Files: 13, Modules: 13, Builtins: 4, Patterns: 17 + 12, Vermagics: 1}
	if diff := cmp.Diff(wantStats, *st, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name      string
		path      string
		builtin   bool
		deps      []string
		pre, post []string
	}{
		{name: "pvpanic_pci", path: "kernel/drivers/misc/pvpanic/pvpanic-pci.ko", deps: []string{"pvpanic"}},
		{name: "crc_t10dif", path: "kernel/lib/crc-t10dif.ko", deps: []string{"crct10dif_common"}, pre: []string{"crct10dif"}},
		{name: "crct10dif_pclmul", path: "kernel/arch/x86/crypto/crct10dif-pclmul.ko", deps: []string{"crct10dif_common"}},
		{name: "libcrc32c", path: "kernel/lib/libcrc32c.ko", pre: []string{"crc32c"}},
		{name: "nls_koi8_ru", path: "kernel/fs/nls/nls_koi8-ru.ko"},
		{name: "sha256_generic", builtin: true},
		{name: "debugfs", builtin: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := byName(t, idx, tc.name)
			if m.GetPath() != tc.path || m.GetBuiltin() != tc.builtin {
				t.Errorf("module %s: path %q builtin %v, want %q %v", tc.name, m.GetPath(), m.GetBuiltin(), tc.path, tc.builtin)
			}
			if got := depNames(idx, m); !slices.Equal(got, tc.deps) {
				t.Errorf("module %s depends on %q, want %q", tc.name, got, tc.deps)
			}
			if !slices.Equal(m.GetSoftdepPre(), tc.pre) || !slices.Equal(m.GetSoftdepPost(), tc.post) {
				t.Errorf("module %s softdeps pre %q post %q, want %q %q", tc.name, m.GetSoftdepPre(), m.GetSoftdepPost(), tc.pre, tc.post)
			}
			if !tc.builtin {
				st, err := os.Stat(filepath.Join(fixtureRoot, tc.path))
				if err != nil || m.GetSize() != uint64(st.Size()) {
					t.Errorf("module %s size %d, want the file's size (%v)", tc.name, m.GetSize(), err)
				}
			}
		})
	}
}

// TestAliasEntries checks the alias entries handed to the match table builder: normalized,
// with built-ins flagged.
func TestAliasEntries(t *testing.T) {
	b := &builder{opts: Options{ModuleRoot: fixtureRoot, ConfigDirs: []string{}}, logf: t.Logf, debugf: t.Logf}
	if err := b.load(); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, e := range b.entries {
		m := b.mods[e.Module]
		if e.Builtin != m.builtin {
			t.Errorf("entry %q of %s: Builtin = %v, want %v", e.Pattern, m.name, e.Builtin, m.builtin)
		}
		got[m.name] = append(got[m.name], e.Pattern)
	}
	for name, want := range map[string][]string{
		"crct10dif_generic": {"crypto_crct10dif_generic", "crct10dif_generic", "crypto_crct10dif", "crct10dif"},
		"debugfs":           {"fs_debugfs"},
		"pvpanic_pci":       {"pci:v00001B36d00000011sv*sd*bc*sc*i*"},
	} {
		if diff := cmp.Diff(want, got[name]); diff != "" {
			t.Errorf("aliases of %s (-want +got):\n%s", name, diff)
		}
	}
}

func TestSubsets(t *testing.T) {
	builtins := []string{"debugfs", "md5", "sha256_generic", "zbud"}
	for _, tc := range []struct {
		name      string
		opts      Options
		want      []string // loadable modules
		selection []string
	}{
		{
			name:      "softdep through aliases",
			opts:      Options{Names: []string{"crc-t10dif"}},
			want:      []string{"crc_t10dif", "crct10dif_common", "crct10dif_generic", "crct10dif_pclmul"},
			selection: []string{"name:crc-t10dif"},
		},
		{
			name:      "softdep crc32c",
			opts:      Options{Names: []string{"libcrc32c"}},
			want:      []string{"crc32c_generic", "libcrc32c"},
			selection: []string{"name:libcrc32c"},
		},
		{
			name:      "glob with hard dependency",
			opts:      Options{Names: []string{"pvpanic-p*"}},
			want:      []string{"pvpanic", "pvpanic_pci"},
			selection: []string{"name:pvpanic-p*"},
		},
		{
			name:      "alias",
			opts:      Options{Names: []string{"crypto-crc32c"}},
			want:      []string{"crc32c_generic"},
			selection: []string{"name:crypto-crc32c"},
		},
		{
			name:      "built-in name",
			opts:      Options{Names: []string{"md5"}},
			selection: []string{"name:md5"},
		},
		{
			name:      "classes",
			opts:      Options{Classes: []string{"nic", "storage", "fs"}},
			want:      []string{"cavium_ptp", "nls_koi8_ru", "nls_utf8", "scsi_common", "virtio_dma_buf"},
			selection: []string{"class:nic", "class:storage", "class:fs"},
		},
		{
			name:      "class and name",
			opts:      Options{Classes: []string{"fs"}, Names: []string{"pvpanic"}},
			want:      []string{"nls_koi8_ru", "nls_utf8", "pvpanic"},
			selection: []string{"class:fs", "name:pvpanic"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ModuleRoot = fixtureRoot
			idx, _ := build(t, tc.opts)
			var got []string
			for _, m := range idx.GetModules() {
				if !m.GetBuiltin() {
					got = append(got, m.GetName())
				} else if !slices.Contains(builtins, m.GetName()) {
					t.Errorf("unexpected built-in %s", m.GetName())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("subset %q (-want +got):\n%s", tc.opts.Names, diff)
			}
			if n := len(idx.GetModules()) - len(got); n != len(builtins) {
				t.Errorf("subset kept %d built-in modules, want all %d", n, len(builtins))
			}
			if !idx.GetSubset() || !slices.Equal(idx.GetSelection(), tc.selection) {
				t.Errorf("Subset, Selection = %v, %q; want true, %q", idx.GetSubset(), idx.GetSelection(), tc.selection)
			}
			// Every dependency index must point at a module of this (re-indexed) subset.
			for _, m := range idx.GetModules() {
				for _, d := range m.GetDepends() {
					if int(d) >= len(idx.GetModules()) {
						t.Errorf("module %s depends on index %d of %d modules", m.GetName(), d, len(idx.GetModules()))
					}
				}
			}
		})
	}
	if idx, _ := build(t, Options{ModuleRoot: fixtureRoot, Names: []string{"pvpanic-pci"}}); true {
		m := byName(t, idx, "pvpanic_pci")
		if got := depNames(idx, m); !slices.Equal(got, []string{"pvpanic"}) {
			t.Errorf("subset: pvpanic_pci depends on %q, want [pvpanic]", got)
		}
	}
}

func TestSelectionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown class", Options{Classes: []string{"gpu"}}, `unknown module class "gpu"`},
		{"unknown name", Options{Names: []string{"no_such_module"}}, `no module or alias "no_such_module"`},
		{"bad pattern", Options{Names: []string{"foo]"}}, `"foo]"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ModuleRoot = fixtureRoot
			tc.opts.ConfigDirs = []string{}
			_, err := Build(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build(%+v) error = %v, want one containing %q", tc.opts, err, tc.want)
			}
		})
	}
	// A glob that matches nothing is only a warning.
	var warned []string
	_, err := Build(Options{ModuleRoot: fixtureRoot, ConfigDirs: []string{}, Names: []string{"zz*"},
		Logf: func(f string, a ...any) { warned = append(warned, f) }})
	if err != nil || len(warned) == 0 {
		t.Errorf("Build(Names: zz*) = %v with warnings %q; want success with a warning", err, warned)
	}
}

func TestDuplicates(t *testing.T) {
	root := copyTree(t)
	add := func(rel, from string) {
		t.Helper()
		if err := copyFile(filepath.Join(fixtureRoot, from), filepath.Join(root, rel)); err != nil {
			t.Fatal(err)
		}
	}
	// updates/ wins over the in-tree module listed in modules.order.
	add("updates/lib/libcrc32c.ko", "kernel/lib/libcrc32c.ko")
	// Equal priority: the file listed in modules.order wins over an unlisted one, even if
	// the unlisted path sorts first.
	add("extra/crc32c_generic.ko", "kernel/crypto/crc32c_generic.ko")
	// Equal priority, neither listed: the lexically smaller path wins.
	add("extra/b/virtio_dma_buf.ko", "kernel/drivers/virtio/virtio_dma_buf.ko")
	add("extra/a/nls_cp.ko", "kernel/fs/nls/nls_utf8.ko")
	add("extra/b/nls_cp.ko", "kernel/fs/nls/nls_utf8.ko")
	idx, st := build(t, Options{ModuleRoot: root})
	for name, want := range map[string]string{
		"libcrc32c":      "updates/lib/libcrc32c.ko",
		"crc32c_generic": "kernel/crypto/crc32c_generic.ko",
		"virtio_dma_buf": "kernel/drivers/virtio/virtio_dma_buf.ko",
		"nls_cp":         "extra/a/nls_cp.ko",
	} {
		if got := byName(t, idx, name).GetPath(); got != want {
			t.Errorf("module %s comes from %s, want %s", name, got, want)
		}
	}
	if st.Duplicates != 4 || st.Files != 18 {
		t.Errorf("Stats.Duplicates, Files = %d, %d; want 4, 18", st.Duplicates, st.Files)
	}
}

func TestMissingDependency(t *testing.T) {
	root := copyTree(t)
	// emu10k1-gp depends on gameport, which the tree does not have.
	if err := copyFile("../modinfo/testdata/emu10k1-gp.ko", filepath.Join(root, "kernel/drivers/input/gameport/emu10k1-gp.ko")); err != nil {
		t.Fatal(err)
	}
	_, err := Build(Options{ModuleRoot: root, ConfigDirs: []string{}})
	if err == nil || !strings.Contains(err.Error(), "emu10k1_gp") || !strings.Contains(err.Error(), "gameport") {
		t.Errorf("Build of a tree missing gameport: error = %v, want one naming emu10k1_gp and gameport", err)
	}
	// A subset that leaves emu10k1-gp out does not need gameport.
	if _, err := Build(Options{ModuleRoot: root, ConfigDirs: []string{}, Names: []string{"libcrc32c"}}); err != nil {
		t.Errorf("Build of a subset without emu10k1_gp: %v", err)
	}
}

func TestBadTrees(t *testing.T) {
	t.Run("symlink outside", func(t *testing.T) {
		root := copyTree(t)
		outside := filepath.Join(t.TempDir(), "evil.ko")
		if err := copyFile(filepath.Join(fixtureRoot, "kernel/lib/libcrc32c.ko"), outside); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(root, "kernel/evil.ko")); err != nil {
			t.Fatal(err)
		}
		_, err := Build(Options{ModuleRoot: root, ConfigDirs: []string{}})
		if err == nil || !strings.Contains(err.Error(), "outside the module root") {
			t.Errorf("Build with a symlink leaving the root: error = %v, want one saying so", err)
		}
	})
	t.Run("symlink inside", func(t *testing.T) {
		root := copyTree(t)
		if err := os.Symlink("../lib/libcrc32c.ko", filepath.Join(root, "kernel/fs/libcrc32c.ko")); err != nil {
			t.Fatal(err)
		}
		_, st := build(t, Options{ModuleRoot: root})
		if st.Duplicates != 1 {
			t.Errorf("Stats.Duplicates = %d, want 1 (the link and its target name one module)", st.Duplicates)
		}
	})
	t.Run("corrupt module", func(t *testing.T) {
		root := copyTree(t)
		bad := filepath.Join(root, "kernel/lib/broken.ko")
		if err := os.WriteFile(bad, []byte("\x7fELF garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Build(Options{ModuleRoot: root, ConfigDirs: []string{}})
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Build with a corrupt module: error = %v, want one naming %s", err, bad)
		}
	})
	t.Run("no root", func(t *testing.T) {
		_, err := Build(Options{ModuleRoot: filepath.Join(t.TempDir(), "none")})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Build of a missing root: error = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("build and source skipped", func(t *testing.T) {
		root := copyTree(t)
		for _, d := range []string{"build", "source"} {
			if err := copyFile("../modinfo/testdata/emu10k1-gp.ko", filepath.Join(root, d, "emu10k1-gp.ko")); err != nil {
				t.Fatal(err)
			}
		}
		_, st := build(t, Options{ModuleRoot: root})
		if st.Files != 13 {
			t.Errorf("Stats.Files = %d, want 13 (build/ and source/ are not searched)", st.Files)
		}
	})
	t.Run("no optional files", func(t *testing.T) {
		root := copyTree(t)
		for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
			os.Remove(filepath.Join(root, f))
		}
		idx, st := build(t, Options{ModuleRoot: root})
		if st.Modules != 13 || st.Builtins != 0 || len(idx.GetModules()) != 13 {
			t.Errorf("Build without optional files: %d modules, %d built-in; want 13, 0", st.Modules, st.Builtins)
		}
	})
}

func TestCompressedTree(t *testing.T) {
	root := filepath.Join(t.TempDir(), "lib", "modules", "6.1.0-56-amd64")
	for _, f := range []struct{ from, to string }{
		{"libcrc32c.ko.xz", "kernel/lib/libcrc32c.ko.xz"},
		{"emu10k1-gp.ko.zst", "kernel/drivers/input/gameport/emu10k1-gp.ko.zst"},
		{"crc-t10dif.ko", "kernel/lib/crc-t10dif.ko"},
	} {
		if err := copyFile(filepath.Join("..", "modinfo", "testdata", f.from), filepath.Join(root, f.to)); err != nil {
			t.Fatal(err)
		}
	}
	// gameport and crct10dif_common are not there: take a subset that avoids them.
	idx, _ := build(t, Options{ModuleRoot: root, Names: []string{"libcrc32c"}})
	m := byName(t, idx, "libcrc32c")
	st, err := os.Stat(filepath.Join(root, "kernel/lib/libcrc32c.ko.xz"))
	if err != nil {
		t.Fatal(err)
	}
	if m.GetPath() != "kernel/lib/libcrc32c.ko.xz" || m.GetSize() != uint64(st.Size()) {
		t.Errorf("libcrc32c: path %q size %d, want kernel/lib/libcrc32c.ko.xz and the compressed size %d",
			m.GetPath(), m.GetSize(), st.Size())
	}
	_, err = Build(Options{ModuleRoot: root, ConfigDirs: []string{}, Names: []string{"emu10k1_gp"}})
	if err == nil || !strings.Contains(err.Error(), "gameport") {
		t.Errorf("Build(emu10k1_gp from .ko.zst): error = %v, want the missing gameport", err)
	}
}

func TestConfigSoftdeps(t *testing.T) {
	root := copyTree(t)
	conf := filepath.Join(root, "modprobe.d")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"a.conf": "# comment\nsoftdep libcrc32c pre: crc16\noptions libcrc32c x=1\n",
		"b.conf": "softdep pvpanic* \\\n  post: scsi-common\nsoftdep\n",
		"c.txt":  "softdep nls_utf8 pre: zbud\n", // not a .conf file
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, st := build(t, Options{ModuleRoot: root, ConfigDirs: DefaultConfigDirs(root)})
	for _, tc := range []struct {
		name      string
		pre, post []string
	}{
		{"libcrc32c", []string{"crc16"}, nil}, // replaces the module's own "pre: crc32c"
		{"pvpanic", nil, []string{"scsi-common"}},
		{"pvpanic_pci", nil, []string{"scsi-common"}},
		{"nls_utf8", nil, nil},
		{"crc_t10dif", []string{"crct10dif"}, nil},
	} {
		m := byName(t, idx, tc.name)
		if !slices.Equal(m.GetSoftdepPre(), tc.pre) || !slices.Equal(m.GetSoftdepPost(), tc.post) {
			t.Errorf("module %s softdeps pre %q post %q, want %q %q", tc.name, m.GetSoftdepPre(), m.GetSoftdepPost(), tc.pre, tc.post)
		}
	}
	if want := []string{filepath.Join(conf, "a.conf"), filepath.Join(conf, "b.conf")}; !slices.Equal(st.ConfigFiles, want) {
		t.Errorf("Stats.ConfigFiles = %q, want %q", st.ConfigFiles, want)
	}
	// A subset follows configured softdeps: pvpanic now pulls in scsi_common.
	sub, _ := build(t, Options{ModuleRoot: root, ConfigDirs: DefaultConfigDirs(root), Names: []string{"pvpanic"}})
	byName(t, sub, "scsi_common")
}

func TestDefaultConfigDirs(t *testing.T) {
	for _, tc := range []struct {
		root string
		want []string
	}{
		{"/x/lib/modules/6.1", []string{"/x/lib/modules/6.1/modprobe.d", "/x/etc/modprobe.d", "/x/run/modprobe.d",
			"/x/usr/local/lib/modprobe.d", "/x/usr/lib/modprobe.d", "/x/lib/modprobe.d"}},
		{"/x/usr/lib/modules/6.1", []string{"/x/usr/lib/modules/6.1/modprobe.d", "/x/etc/modprobe.d", "/x/run/modprobe.d",
			"/x/usr/local/lib/modprobe.d", "/x/usr/lib/modprobe.d", "/x/lib/modprobe.d"}},
		{"/srv/tree", []string{"/srv/tree/modprobe.d"}},
	} {
		if got := DefaultConfigDirs(tc.root); !slices.Equal(got, tc.want) {
			t.Errorf("DefaultConfigDirs(%q) = %q, want %q", tc.root, got, tc.want)
		}
	}
}

func TestConfigFilesOverride(t *testing.T) {
	dir := t.TempDir()
	etc, lib := filepath.Join(dir, "etc"), filepath.Join(dir, "lib")
	for _, f := range []string{"etc/x.conf", "lib/x.conf", "lib/a.conf", "lib/.hidden.conf", "etc/z.conf"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := configFiles([]string{etc, filepath.Join(dir, "missing"), lib})
	want := []string{filepath.Join(lib, "a.conf"), filepath.Join(etc, "x.conf"), filepath.Join(etc, "z.conf")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("configFiles = %q, %v; want %q", got, err, want)
	}
}

func TestDeterministic(t *testing.T) {
	var first []byte
	for _, workers := range []int{1, 2, 7} {
		idx, _ := build(t, Options{ModuleRoot: fixtureRoot, Workers: workers})
		data, err := Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = data
		} else if !bytes.Equal(first, data) {
			t.Errorf("Marshal with %d workers gave different bytes (%d vs %d)", workers, len(data), len(first))
		}
	}
}

func TestStage(t *testing.T) {
	idx, _ := build(t, Options{ModuleRoot: fixtureRoot, Names: []string{"crc-t10dif"}})
	stage := t.TempDir()
	meta, err := Stage(idx, fixtureRoot, stage)
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	dst := filepath.Join(stage, "lib", "modules", fixtureRelease)
	if meta != filepath.Join(dst, MetaName) {
		t.Errorf("Stage wrote %s, want %s", meta, filepath.Join(dst, MetaName))
	}
	data, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	var got spec.Index
	if err := proto.Unmarshal(data, &got); err != nil || !proto.Equal(&got, idx) {
		t.Errorf("staged meta.pb does not decode to the index (err %v)", err)
	}
	for _, m := range idx.GetModules() {
		if m.GetBuiltin() {
			continue
		}
		want, _ := os.ReadFile(filepath.Join(fixtureRoot, m.GetPath()))
		have, err := os.ReadFile(filepath.Join(dst, m.GetPath()))
		if err != nil || !bytes.Equal(have, want) {
			t.Errorf("staged %s differs from the tree's (err %v)", m.GetPath(), err)
		}
	}
	order, _ := os.ReadFile(filepath.Join(dst, "modules.order"))
	wantOrder := "kernel/arch/x86/crypto/crct10dif-pclmul.ko\nkernel/crypto/crct10dif_common.ko\n" +
		"kernel/crypto/crct10dif_generic.ko\nkernel/lib/crc-t10dif.ko\n"
	if string(order) != wantOrder {
		t.Errorf("staged modules.order = %q, want %q", order, wantOrder)
	}
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo"} {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Errorf("staged tree lacks %s: %v", f, err)
		}
	}
	if n, _ := filepath.Glob(filepath.Join(dst, "kernel", "fs", "*", "*")); len(n) != 0 {
		t.Errorf("Stage copied unselected modules: %q", n)
	}

	t.Run("forged path", func(t *testing.T) {
		bad := proto.Clone(idx).(*spec.Index)
		bad.Modules[0].Builtin = false
		bad.Modules[0].Path = "../../../etc/passwd"
		if _, err := Stage(bad, fixtureRoot, t.TempDir()); err == nil {
			t.Errorf("Stage of a module path with .. succeeded")
		}
	})
}
