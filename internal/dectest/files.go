package dectest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Kernel is a Debian kernel that scripts/fetch-kernel.sh has unpacked into the cache.
type Kernel struct {
	// ModDir is its lib/modules/<release> directory; Release is <release>.
	ModDir, Release string
	// Cache is the cache directory, ${KMODBOOT_CACHE:-~/.cache/kmodboot}, where tests may
	// keep what they derive from the kernel (compressed samples).
	Cache string
}

// CacheDir returns ${KMODBOOT_CACHE:-~/.cache/kmodboot}.
func CacheDir() (string, error) {
	if c := os.Getenv("KMODBOOT_CACHE"); c != "" {
		return c, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: %v", err)
	}
	return filepath.Join(home, ".cache", "kmodboot"), nil
}

// CachedKernel returns the newest cached kernel of series ("6.1" or "6.12"). It never
// downloads: scripts/fetch-kernel.sh does.
func CachedKernel(series string) (Kernel, error) {
	cache, err := CacheDir()
	if err != nil {
		return Kernel{}, err
	}
	pattern, ok := map[string]string{"6.1": "kernel-6.1.0-*", "6.12": "kernel-6.12.*"}[series]
	if !ok {
		return Kernel{}, fmt.Errorf("unknown kernel series %q (want 6.1 or 6.12)", series)
	}
	marks, _ := filepath.Glob(filepath.Join(cache, pattern, ".complete"))
	if len(marks) == 0 {
		return Kernel{}, fmt.Errorf("no %s kernel cached in %s; run scripts/fetch-kernel.sh %s to get one",
			series, cache, series)
	}
	slices.Sort(marks)
	kdir := filepath.Dir(marks[len(marks)-1])
	mods, _ := filepath.Glob(filepath.Join(kdir, "lib", "modules", "*"))
	if len(mods) != 1 {
		return Kernel{}, fmt.Errorf("%s: want one lib/modules/<release>, got %q", kdir, mods)
	}
	return Kernel{ModDir: mods[0], Release: filepath.Base(mods[0]), Cache: cache}, nil
}

// NeedKernel is CachedKernel for tests that need the kernel: they skip without it, and with
// -short.
func NeedKernel(tb testing.TB, series string) Kernel {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs a real kernel tree; skipped with -short")
	}
	k, err := CachedKernel(series)
	if err != nil {
		tb.Skip(err)
	}
	return k
}

// ModuleFiles returns the files under modDir whose names end in suffix (".ko", ".ko.xz"),
// relative to modDir and sorted, and fails the test when there are fewer than atLeast.
func ModuleFiles(tb testing.TB, modDir, suffix string, atLeast int) []string {
	tb.Helper()
	var rel []string
	err := filepath.WalkDir(modDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, suffix) {
			r, _ := filepath.Rel(modDir, p)
			rel = append(rel, r)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(rel)
	if len(rel) < atLeast {
		tb.Fatalf("%s has %d %s files, want at least %d", modDir, len(rel), suffix, atLeast)
	}
	return rel
}

// Fixtures returns the committed testdata/*<ext> files of the calling test's package (ext is
// ".gz", ".zst"), by name without ext, and fails the test when there are none.
func Fixtures(tb testing.TB, ext string) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/*" + ext)
	if err != nil || len(files) == 0 {
		tb.Fatalf("no testdata/*%s fixtures (%v)", ext, err)
	}
	m := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		m[strings.TrimSuffix(filepath.Base(f), ext)] = b
	}
	return m
}
