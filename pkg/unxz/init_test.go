package unxz

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// probeMain is a tiny program that imports unxz, as modload does.
const probeMain = `package main

import (
	"fmt"
	"os"

	"github.com/kmodboot/kmodboot/pkg/unxz"
)

func main() {
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	out, err := unxz.Decode(src, 1<<30)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(out))
}
`

// TestNoInitWork builds a tiny binary importing unxz (through a build overlay, so nothing is
// written into the source tree) and runs it with GODEBUG=inittrace=1: unxz must have no init
// work of its own, and must not pull in packages with costly inits (crypto/*, math/big).
func TestNoInitWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	pkgDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	mainFile := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(mainFile, []byte(probeMain), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{
		filepath.Join(pkgDir, "initprobe", "main.go"): mainFile,
	}})
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "probe")
	build := exec.Command(goCmd, "build", "-overlay", overlayFile, "-o", bin, "./initprobe")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build probe: %v\n%s", err, out)
	}

	run := exec.Command(bin, filepath.Join("testdata", "check-crc32.xz"))
	run.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("probe: %v\n%s", err, stderr.Bytes())
	}
	if got := strings.TrimSpace(stdout.String()); got != "2048" {
		t.Fatalf("probe decoded %s bytes, want 2048", got)
	}
	var inits []string
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "init" {
			continue
		}
		inits = append(inits, sc.Text())
		if pkg := f[1]; pkg == "github.com/kmodboot/kmodboot/pkg/unxz" ||
			strings.HasPrefix(pkg, "crypto") || pkg == "math/big" {
			t.Errorf("package %s runs init work in a binary importing unxz: %s", pkg, sc.Text())
		}
	}
	if len(inits) == 0 {
		t.Fatalf("no inittrace output: %s", stderr.Bytes())
	}
	t.Logf("inits in the probe binary:\n%s", strings.Join(inits, "\n"))
}
