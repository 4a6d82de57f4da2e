package modindex_test

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/kmodboot/kmodboot/internal/aliascorpus"
	"github.com/kmodboot/kmodboot/internal/kmodref"
	"github.com/kmodboot/kmodboot/pkg/metabuild"
	"github.com/kmodboot/kmodboot/pkg/modindex"
)

// TestConformanceThroughBuilder is the end-to-end check of issue 2: meta.pb built by the real
// builder (pkg/metabuild, what mkmeta runs) from the Debian kernel's own module files, opened
// by modindex, must answer every string exactly as libkmod answers on the same tree after
// depmod. pkg/modalias's conformance test checks the matcher alone, on depmod's alias list;
// this one adds .modinfo parsing, built-in handling, name lookup and resolution order.
func TestConformanceThroughBuilder(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Debian kernels and libkmod; runs without -short (make test)")
	}
	oracle := buildOracle(t)
	for _, series := range []string{"6.1", "6.12"} {
		t.Run(series, func(t *testing.T) {
			tree, err := kmodref.DepmodTree(series)
			if err != nil {
				t.Fatalf("prepare Linux %s: %v", series, err)
			}
			idx, err := metabuild.Build(metabuild.Options{ModuleRoot: tree.ModDir, Release: tree.Release})
			if err != nil {
				t.Fatalf("metabuild.Build(%s): %v", tree.ModDir, err)
			}
			data, err := metabuild.Marshal(idx)
			if err != nil {
				t.Fatal(err)
			}
			ix, err := modindex.Decode(data, "meta.pb of "+tree.Release)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if err := ix.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}

			// The corpus: strings matching every alias pattern of depmod's view and near
			// misses, every module name in both spellings, and odd inputs.
			lines, err := kmodref.ReadModulesAlias(tree.ModDir)
			if err != nil {
				t.Fatal(err)
			}
			builtinLines, err := kmodref.ReadBuiltinAliases(tree.ModDir)
			if err != nil {
				t.Fatal(err)
			}
			var patterns []string
			for _, l := range append(lines, builtinLines...) {
				patterns = append(patterns, l.Pattern)
			}
			slices.Sort(patterns)
			patterns = slices.Compact(patterns)
			corpus := aliascorpus.Generate(patterns, aliascorpus.Options{Seed: 2, Matches: 2, NearMisses: true})
			loadable, builtin, err := kmodref.ReadModuleNames(tree.ModDir)
			if err != nil {
				t.Fatal(err)
			}
			for _, names := range []map[string]bool{loadable, builtin} {
				for n := range names {
					corpus = append(corpus, n, dashed(n), n+"x")
				}
			}
			corpus = append(corpus, "", "pci:", "pci:]", "usb:[", "symbol:", "fs-ext4", "crypto-crc32c",
				"net-pf-10", "char-major-10-229", "block-major-8-0", "debugfs", "tracefs", "fs-debugfs")

			want, err := oracle.Resolve(tree.ModDir, corpus)
			if err != nil {
				t.Fatal(err)
			}
			diffs := 0
			for _, s := range corpus {
				got, errno := resolveNames(ix, s)
				w := want[s]
				if errno != w.Errno || !slices.Equal(got, w.Modules) {
					if diffs++; diffs <= 20 {
						t.Errorf("Resolve(%q) = %v (errno %d), libkmod says %v (errno %d)", s, got, errno, w.Modules, w.Errno)
					}
				}
			}
			t.Logf("Linux %s: %d modules indexed; compared %d strings with libkmod, %d differences",
				tree.Release, ix.NumModules(), len(corpus), diffs)
		})
	}
}

// resolveNames reduces Resolve's answer to what kmodref prints: sorted distinct names, or
// errno 22 for an alias that fails normalization.
func resolveNames(ix *modindex.Index, s string) ([]string, int) {
	ms, err := ix.Resolve(s)
	var nf *modindex.NotFoundError
	switch {
	case errors.As(err, &nf):
		return nil, 0
	case err != nil:
		return nil, 22
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return slices.Compact(names), 0
}

func dashed(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

func buildOracle(t *testing.T) *kmodref.Oracle {
	t.Helper()
	path, err := kmodref.Build(t.TempDir())
	if err != nil {
		if errors.Is(err, kmodref.ErrUnavailable) && os.Getenv("CI") == "" {
			t.Skipf("libkmod oracle unavailable: %v (make deps installs gcc and libkmod-dev)", err)
		}
		t.Fatalf("build kmodref: %v", err)
	}
	return &kmodref.Oracle{Path: path}
}
