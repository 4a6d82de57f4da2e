package vmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmodboot/kmodboot/initramfs"
)

// ImageOptions select what goes into a test image besides the defaults of package initramfs.
type ImageOptions struct {
	Kernel Kernel
	// Classes and Modules shape the module subset as in initramfs.Options; nil Classes
	// means initramfs.DefaultClasses, an empty non-nil Classes only the named Modules.
	Classes, Modules []string
	// ExtraCommands are Go packages added to the default busybox (test helpers).
	ExtraCommands []string
	// ExtraFiles are "hostpath:imagepath" pairs.
	ExtraFiles []string
	// NoModules builds without kernel modules.
	NoModules bool
}

var (
	// buildMu serialises image builds within a test binary: each one saturates the CPUs.
	buildMu sync.Mutex
	images  sync.Map // cache key -> path
)

// Image returns an initramfs for o, building it unless build/vmtest/images already holds one
// built from the same sources and options. Build output goes to the test log.
func Image(t testing.TB, o ImageOptions) string {
	t.Helper()
	key, err := imageKey(o)
	if err != nil {
		t.Fatalf("image key: %v", err)
	}
	if p, ok := images.Load(key); ok {
		return p.(string)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := images.Load(key); ok {
		return p.(string)
	}
	dir := filepath.Join(RepoRoot(), "build", "vmtest", "images")
	out := filepath.Join(dir, key[:16]+"-"+o.Kernel.Series+".cpio.zst")
	if _, err := os.Stat(out); err == nil {
		now := time.Now()
		os.Chtimes(out, now, now) // keep it from being pruned
		t.Logf("image %s (cached)", out)
		images.Store(key, out)
		return out
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := out + ".tmp"
	var cmds []string
	if len(o.ExtraCommands) > 0 {
		cmds = initramfs.DefaultCommands(context.Background(), RepoRoot(), logWriter{t})
		cmds = append(cmds, o.ExtraCommands...)
	}
	res, err := initramfs.Build(context.Background(), initramfs.Options{
		RepoRoot:   RepoRoot(),
		KernelDir:  o.Kernel.Dir,
		Release:    o.Kernel.Release,
		Classes:    o.Classes,
		Modules:    o.Modules,
		NoModules:  o.NoModules,
		Commands:   cmds,
		ExtraFiles: o.ExtraFiles,
		Output:     tmp,
		Log:        logWriter{t},
	})
	if err != nil {
		os.Remove(tmp)
		t.Fatalf("build initramfs: %v", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	t.Logf("image %s", res)
	images.Store(key, out)
	pruneImages(dir, out)
	return out
}

// imageMaxAge is how long an unused cached image is kept: every source change makes new ones.
const imageMaxAge = 24 * time.Hour

// pruneImages removes cached images not used for imageMaxAge, except keep.
func pruneImages(dir, keep string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil || p == keep || time.Since(fi.ModTime()) < imageMaxAge {
			continue
		}
		os.Remove(p)
	}
}

// logWriter sends build output to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// imageKey fingerprints everything an image is built from: the options, the kernel, and the
// Go sources, go.mod and go.sum of the tree (test files excluded; vmtest's guest programs such
// as coldplugcheck go into images too).
func imageKey(o ImageOptions) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %v %q %q %v %q %q\n", o.Kernel.Dir, o.Kernel.Release, o.Classes, o.Classes == nil,
		o.Modules, o.ExtraCommands, o.NoModules, o.ExtraFiles, initramfs.CoreCommands)
	root := RepoRoot()
	var files []string
	for _, top := range []string{"cmds", "pkg", "initramfs", "spec", "internal", "vmtest"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	files = append(files, filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum"))
	for _, f := range o.ExtraFiles {
		files = append(files, strings.SplitN(f, ":", 2)[0])
	}
	sort.Strings(files)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n", f)
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
