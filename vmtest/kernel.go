package vmtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Kernel is a Debian kernel unpacked by scripts/fetch-kernel.sh.
type Kernel struct {
	// Series is what was asked for: "6.1" or "6.12".
	Series string
	// Dir is the unpacked package; Vmlinuz the bzImage; ModDir is Dir/lib/modules/Release.
	Dir, Vmlinuz, ModDir string
	// Release is `uname -r` of the kernel, e.g. 6.1.0-27-amd64.
	Release string
}

// RepoRoot returns the kmodboot checkout this file belongs to.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("vmtest: cannot locate the source tree")
	}
	return filepath.Dir(filepath.Dir(file))
}

var kernels sync.Map // series -> *kernelOnce

type kernelOnce struct {
	once sync.Once
	k    Kernel
	err  error
}

// FetchKernel returns the kernel of a series, downloading it on first use. It fails the test
// (rather than skipping it) when the kernel cannot be had: the VM tests are part of `make test`.
func FetchKernel(t testing.TB, series string) Kernel {
	t.Helper()
	v, _ := kernels.LoadOrStore(series, &kernelOnce{})
	ko := v.(*kernelOnce)
	ko.once.Do(func() { ko.k, ko.err = fetchKernel(series) })
	if ko.err != nil {
		t.Fatalf("kernel %s: %v", series, ko.err)
	}
	return ko.k
}

func fetchKernel(series string) (Kernel, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(RepoRoot(), "scripts", "fetch-kernel.sh"), series)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Kernel{}, fmt.Errorf("scripts/fetch-kernel.sh %s: %v\n%s", series, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := lines[len(lines)-1]
	ents, err := os.ReadDir(filepath.Join(dir, "lib", "modules"))
	if err != nil {
		return Kernel{}, fmt.Errorf("kernel %s in %s: %w", series, dir, err)
	}
	if len(ents) != 1 {
		return Kernel{}, fmt.Errorf("kernel %s in %s: want one release under lib/modules, found %d", series, dir, len(ents))
	}
	rel := ents[0].Name()
	k := Kernel{
		Series: series, Dir: dir, Release: rel,
		Vmlinuz: filepath.Join(dir, "boot", "vmlinuz-"+rel),
		ModDir:  filepath.Join(dir, "lib", "modules", rel),
	}
	if _, err := os.Stat(k.Vmlinuz); err != nil {
		return Kernel{}, fmt.Errorf("kernel %s: %w", series, err)
	}
	return k, nil
}
