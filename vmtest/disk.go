package vmtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RootSpec describes a root disk and what its init must find after switch_root.
type RootSpec struct {
	// Label is the ext4 label; the kernel command line names the disk by it.
	Label string
	// ID is the boot's unique token, printed in KMODBOOT-ROOT-OK <ID>. Empty means NewID().
	ID string
	// IPv4 is how many interfaces must hold an IPv4 address.
	IPv4 int
	// Data are labels of data disks the root init must find and mount.
	Data []string
}

// NewID returns a random token for a boot's markers.
func NewID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var rootinit struct {
	once sync.Once
	path string
	err  error
}

// rootinitBinary builds vmtest/rootinit once per test binary, statically.
func rootinitBinary(t testing.TB) string {
	t.Helper()
	rootinit.once.Do(func() {
		dir, err := os.MkdirTemp("", "kmodboot-rootinit-")
		if err != nil {
			rootinit.err = err
			return
		}
		rootinit.path = filepath.Join(dir, "rootinit")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", rootinit.path, "./vmtest/rootinit")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			rootinit.err = fmt.Errorf("go build ./vmtest/rootinit: %v\n%s", err, out)
		}
	})
	if rootinit.err != nil {
		t.Fatal(rootinit.err)
	}
	return rootinit.path
}

// RootDisk writes an ext4 image whose /sbin/init is rootinit and returns its path.
func RootDisk(t testing.TB, spec RootSpec) string {
	t.Helper()
	if spec.ID == "" {
		t.Fatal("RootDisk: spec.ID is empty")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	// The mount points must exist on the root: it is mounted read-only, and switch_root
	// moves /dev, /proc, /sys and /run onto them.
	for _, d := range []string{"sbin", "etc/kmodboot", "dev", "proc", "sys", "run", "tmp"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile(rootinitBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "sbin", "init"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	var exp strings.Builder
	fmt.Fprintf(&exp, "id %s\nipv4 %d\n", spec.ID, spec.IPv4)
	for _, d := range spec.Data {
		fmt.Fprintf(&exp, "data %s\n", d)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc", "kmodboot", "expect"), []byte(exp.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "root.img")
	mkfsExt4(t, img, spec.Label, tree, "32M")
	return img
}

// DataDisk writes an ext4 image labelled label with a /MARKER file naming it.
func DataDisk(t testing.TB, label string) string {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "MARKER"), []byte("data disk "+label+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "data.img")
	mkfsExt4(t, img, label, tree, "8M")
	return img
}

func mkfsExt4(t testing.TB, img, label, tree, size string) {
	t.Helper()
	if len(label) > 16 {
		t.Fatalf("ext4 label %q is longer than 16 bytes", label)
	}
	cmd := exec.Command("mkfs.ext4", "-q", "-F", "-L", label, "-d", tree, img, size)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 -L %s -d %s %s: %v\n%s (e2fsprogs >= 1.43 is needed; scripts/ci-deps.sh installs it)", label, tree, img, err, out)
	}
}
