package metabuild

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/pkg/modindex"
	"github.com/kmodboot/kmodboot/pkg/modinfo"
	"github.com/kmodboot/kmodboot/spec"
)

// kernelTree returns the module root of a real Debian kernel fetched by
// scripts/fetch-kernel.sh. It skips with -short and when the kernel cannot be fetched.
func kernelTree(tb testing.TB, series string) (root, release string) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs a real kernel tree; skipped with -short")
	}
	out, err := exec.Command("../../scripts/fetch-kernel.sh", series).Output()
	if err != nil {
		tb.Skipf("scripts/fetch-kernel.sh %s: %v", series, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := lines[len(lines)-1]
	ents, err := os.ReadDir(filepath.Join(dir, "lib", "modules"))
	if err != nil || len(ents) != 1 {
		tb.Fatalf("%s/lib/modules: want exactly one release, got %v (%v)", dir, ents, err)
	}
	release = ents[0].Name()
	return filepath.Join(dir, "lib", "modules", release), release
}

// depmodTree returns a copy of the module tree at root on which kmod's depmod has run, kept in
// ${KMODBOOT_CACHE:-~/.cache/kmodboot}/depmod-<release> (hard links, so it costs no space).
func depmodTree(t *testing.T, root, release string) string {
	t.Helper()
	depmod, err := exec.LookPath("depmod")
	if err != nil {
		if depmod, err = exec.LookPath("/sbin/depmod"); err != nil {
			t.Skip("kmod's depmod is not installed (apt-get install kmod)")
		}
	}
	cache := os.Getenv("KMODBOOT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skipf("no cache directory: %v", err)
		}
		cache = filepath.Join(home, ".cache", "kmodboot")
	}
	base := filepath.Join(cache, "depmod-"+release)
	dir := filepath.Join(base, "lib", "modules", release)
	if _, err := os.Stat(filepath.Join(base, ".complete")); err == nil {
		return dir
	}
	if err := os.RemoveAll(base); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-al", root, dir).CombinedOutput(); err != nil {
		t.Logf("cp -al: %v: %s; copying instead", err, out)
		os.RemoveAll(dir)
		if out, err := exec.Command("cp", "-a", root, dir).CombinedOutput(); err != nil {
			t.Fatalf("cp -a %s %s: %v: %s", root, dir, err, out)
		}
	}
	if out, err := exec.Command(depmod, "-b", base, release).CombinedOutput(); err != nil {
		t.Fatalf("depmod -b %s %s: %v: %s", base, release, err, out)
	}
	if err := os.WriteFile(filepath.Join(base, ".complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readLines returns the lines of a text file of the depmod tree.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// closure returns the names of every module m transitively depends on, sorted.
func closure(idx *spec.Index, m int) []string {
	seen := map[int]bool{}
	var visit func(int)
	visit = func(i int) {
		for _, d := range idx.GetModules()[i].GetDepends() {
			if !seen[int(d)] {
				seen[int(d)] = true
				visit(int(d))
			}
		}
	}
	visit(m)
	var names []string
	for i := range seen {
		names = append(names, idx.GetModules()[i].GetName())
	}
	sort.Strings(names)
	return names
}

// TestFullTrees indexes the complete Debian 6.1 and 6.12 trees and compares the result with
// what kmod's depmod computes from the same files: modules, dependencies (modules.dep),
// softdeps (modules.softdep) and aliases (modules.alias).
func TestFullTrees(t *testing.T) {
	for _, tc := range []struct {
		series  string
		modules int // loadable modules; -1 when not pinned
	}{
		{"6.1", 4023},
		{"6.12", -1},
	} {
		t.Run(tc.series, func(t *testing.T) {
			root, release := kernelTree(t, tc.series)
			ref := depmodTree(t, root, release)
			b, idx, err := run(Options{ModuleRoot: root, ConfigDirs: []string{}, Logf: t.Logf})
			if err != nil {
				t.Fatalf("Build(%s): %v", root, err)
			}
			st := b.stats
			t.Logf("%s: %d modules, %d built-in, %d patterns, %d dropped aliases, %d unresolved softdeps",
				release, st.Modules, st.Builtins, st.Patterns, st.DroppedAliases, st.UnresolvedSoftdeps)

			// Modules and dependencies against modules.dep.
			refDeps := map[string][]string{}
			for _, line := range readLines(t, filepath.Join(ref, "modules.dep")) {
				mod, deps, ok := strings.Cut(line, ":")
				if !ok {
					t.Fatalf("modules.dep line %q has no ':'", line)
				}
				var names []string
				for _, d := range strings.Fields(deps) {
					names = append(names, modinfo.ModuleName(d))
				}
				sort.Strings(names)
				refDeps[modinfo.ModuleName(mod)] = names
			}
			if tc.modules >= 0 && st.Modules != tc.modules {
				t.Errorf("%s: %d loadable modules, want %d", release, st.Modules, tc.modules)
			}
			if st.Modules != len(refDeps) {
				t.Errorf("%s: %d loadable modules, modules.dep has %d", release, st.Modules, len(refDeps))
			}
			bad := 0
			for i, m := range idx.GetModules() {
				if m.GetBuiltin() {
					continue
				}
				want, ok := refDeps[m.GetName()]
				got := closure(idx, i)
				if !ok || !slices.Equal(got, want) {
					if bad++; bad <= 20 {
						t.Errorf("%s: dependencies of %s = %q, modules.dep says %q (listed: %v)", release, m.GetName(), got, want, ok)
					}
				}
			}

			// Softdeps against modules.softdep ("softdep NAME pre: ... post: ...", one line per
			// softdep= field).
			refSoft := map[string][2][]string{}
			for _, line := range readLines(t, filepath.Join(ref, "modules.softdep")) {
				f := strings.Fields(line)
				if len(f) < 3 || f[0] != "softdep" {
					continue
				}
				pre, post := modinfo.ParseSoftdep(strings.Join(f[2:], " "))
				s := refSoft[f[1]]
				refSoft[f[1]] = [2][]string{append(s[0], pre...), append(s[1], post...)}
			}
			for _, m := range idx.GetModules() {
				if m.GetBuiltin() {
					continue
				}
				want := refSoft[m.GetName()]
				if !slices.Equal(m.GetSoftdepPre(), dedup(want[0])) || !slices.Equal(m.GetSoftdepPost(), dedup(want[1])) {
					t.Errorf("%s: softdeps of %s = pre %q post %q, modules.softdep says pre %q post %q",
						release, m.GetName(), m.GetSoftdepPre(), m.GetSoftdepPost(), want[0], want[1])
				}
			}

			// Aliases against modules.alias (which lists them as written; depmod drops the
			// ones that do not normalize from modules.alias.bin, and so do we).
			refAlias := map[string]bool{}
			dropped := 0
			for _, line := range readLines(t, filepath.Join(ref, "modules.alias")) {
				f := strings.Fields(line)
				if len(f) != 3 || f[0] != "alias" {
					continue
				}
				p, err := modalias.Normalize(f[1])
				if err != nil {
					dropped++
					continue
				}
				refAlias[p+" "+f[2]] = true
			}
			ours := map[string]bool{}
			for _, e := range b.entries {
				if m := b.mods[e.Module]; !m.builtin {
					ours[e.Pattern+" "+m.name] = true
				}
			}
			for k := range refAlias {
				if !ours[k] {
					t.Errorf("%s: alias %q is in modules.alias but not in the index", release, k)
				}
			}
			for k := range ours {
				if !refAlias[k] {
					t.Errorf("%s: alias %q is in the index but not in modules.alias", release, k)
				}
			}
			if dropped != st.DroppedAliases {
				t.Errorf("%s: dropped %d aliases, modules.alias has %d that do not normalize", release, st.DroppedAliases, dropped)
			}

			// Built-in modules against modules.builtin.
			for _, line := range readLines(t, filepath.Join(root, "modules.builtin")) {
				if m := byName(t, idx, modinfo.ModuleName(line)); !m.GetBuiltin() {
					t.Errorf("%s: %s is in modules.builtin but not built in in the index", release, m.GetName())
				}
			}

			// The index works through the reader the loader uses.
			data, err := Marshal(idx)
			if err != nil {
				t.Fatal(err)
			}
			rd, err := modindex.Decode(data, "test "+release)
			if err != nil {
				t.Fatalf("modindex.Decode of our %s index: %v", release, err)
			}
			for mod, wantDeps := range map[string][]string{
				"virtio_net":   {"net_failover"},
				"net_failover": {"failover"},
			} {
				i, ok := rd.ByName(mod)
				if !ok {
					t.Fatalf("%s: no module %s", release, mod)
				}
				if got := depNames(idx, idx.GetModules()[i]); !slices.Contains(got, wantDeps[0]) {
					t.Errorf("%s: %s depends on %q, want it to include %q", release, mod, got, wantDeps)
				}
			}
			for _, c := range []struct{ arg, want string }{
				{"fs-ext4", "ext4"},
				{"crypto-crc32c", "crc32c_generic"},
				{"virtio:d00000001v00001AF4", "virtio_net"},
				{"pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00", "e1000"},
			} {
				ms, err := rd.Resolve(c.arg)
				var names []string
				for _, m := range ms {
					names = append(names, m.Name)
				}
				if err != nil || !slices.Contains(names, c.want) {
					t.Errorf("%s: Resolve(%q) = %q, %v; want it to include %s", release, c.arg, names, err, c.want)
				}
			}
			if tc.series == "6.12" {
				if m := byName(t, idx, "virtio_pci"); !m.GetBuiltin() {
					t.Errorf("6.12: virtio_pci is not built in, want built in (CONFIG_VIRTIO_PCI=y)")
				}
			}
		})
	}
}

// TestFullSubset checks the subsets the initramfs uses on the real 6.1 tree: ext4's softdep
// on crc32c pulls in both crc32c implementations, as modprobe would load them.
func TestFullSubset(t *testing.T) {
	root, release := kernelTree(t, "6.1")
	idx, st := build(t, Options{ModuleRoot: root, Classes: []string{"nic", "storage"}, Names: []string{"ext4", "virtio_*"}})
	for _, want := range []string{"ext4", "jbd2", "mbcache", "crc16", "crc32c_generic", "crc32c_intel",
		"virtio_net", "net_failover", "failover", "virtio_blk", "virtio_scsi", "virtio_pci", "sd_mod",
		"sr_mod", "nvme", "ahci", "e1000", "e1000e", "8139cp", "vmxnet3"} {
		byName(t, idx, want)
	}
	for _, absent := range []string{"btrfs", "iwlwifi", "snd_hda_intel"} {
		for _, m := range idx.GetModules() {
			if m.GetName() == absent {
				t.Errorf("%s subset contains %s", release, absent)
			}
		}
	}
	t.Logf("%s nic+storage+ext4+virtio_*: %d modules, %d built-in, %d patterns", release, st.Modules, st.Builtins, st.Patterns)
	if _, err := modindex.Decode(mustMarshal(t, idx), "subset"); err != nil {
		t.Errorf("modindex.Decode of the subset: %v", err)
	}
}

func mustMarshal(t *testing.T, idx *spec.Index) []byte {
	t.Helper()
	data, err := Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
