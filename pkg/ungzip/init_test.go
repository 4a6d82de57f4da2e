package ungzip

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

// probeMain is a tiny program that imports ungzip, as modload does.
const probeMain = `package main

import (
	"fmt"
	"os"

	"github.com/kmodboot/kmodboot/pkg/ungzip"
)

func main() {
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	out, err := ungzip.Decode(src, 1<<30)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(out))
}
`

// TestNoInitWork checks that ungzip links none of the packages it exists to avoid
// (compress/*, hash/crc32) nor ones with costly inits (crypto/*, math/big), and builds a tiny
// binary importing it (through a build overlay, so nothing is written into the source tree)
// and runs it with GODEBUG=inittrace=1: ungzip must have no init work of its own.
func TestNoInitWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	deps, err := exec.Command(goCmd, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(deps)) {
		if strings.HasPrefix(pkg, "compress/") || pkg == "hash/crc32" ||
			strings.HasPrefix(pkg, "crypto/") || pkg == "math/big" {
			t.Errorf("ungzip depends on %s", pkg)
		}
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

	run := exec.Command(bin, filepath.Join("testdata", "words-1.gz"))
	run.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("probe: %v\n%s", err, stderr.Bytes())
	}
	if got := strings.TrimSpace(stdout.String()); got != "12988" {
		t.Fatalf("probe decoded %s bytes, want 12988", got)
	}
	var inits []string
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "init" {
			continue
		}
		inits = append(inits, sc.Text())
		if pkg := f[1]; pkg == "github.com/kmodboot/kmodboot/pkg/ungzip" ||
			strings.HasPrefix(pkg, "crypto") || strings.HasPrefix(pkg, "compress") ||
			pkg == "math/big" {
			t.Errorf("package %s runs init work in a binary importing ungzip: %s", pkg, sc.Text())
		}
	}
	if len(inits) == 0 {
		t.Fatalf("no inittrace output: %s", stderr.Bytes())
	}
	t.Logf("inits in the probe binary:\n%s", strings.Join(inits, "\n"))
}
