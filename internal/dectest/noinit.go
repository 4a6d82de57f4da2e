package dectest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// Probe describes the tiny program NoInitWork builds: it imports the decoder at Import (as
// modload does), decodes the file Input (relative to the test's package directory) with
// Decode(src, 1<<30) and prints the output's length, which must be WantLen.
type Probe struct {
	Import  string
	Input   string
	WantLen int
	// Forbidden reports packages the decoder must neither depend on nor see run init work in
	// the probe binary: those it exists to avoid, and those with costly inits. The decoder's
	// own package is always forbidden init work.
	Forbidden func(pkg string) bool
}

// NoInitWork checks that the decoder's package and its dependencies avoid p.Forbidden, builds
// the probe (through a build overlay, so nothing is written into the source tree) and runs it
// with GODEBUG=inittrace=1: neither the decoder nor a forbidden package may run init work. It
// is skipped with -short and when there is no go command.
func NoInitWork(t *testing.T, p Probe) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	name := path.Base(p.Import)
	deps, err := exec.Command(goCmd, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(deps)) {
		if p.Forbidden(pkg) {
			t.Errorf("%s depends on %s", name, pkg)
		}
	}

	pkgDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	mainFile := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(mainFile, []byte(probeMain(p.Import)), 0o644); err != nil {
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

	run := exec.Command(bin, p.Input)
	run.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("probe: %v\n%s", err, stderr.Bytes())
	}
	if got, want := strings.TrimSpace(stdout.String()), fmt.Sprint(p.WantLen); got != want {
		t.Fatalf("probe decoded %s bytes, want %s", got, want)
	}
	var inits []string
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "init" {
			continue
		}
		inits = append(inits, sc.Text())
		if pkg := f[1]; pkg == p.Import || p.Forbidden(pkg) {
			t.Errorf("package %s runs init work in a binary importing %s: %s", pkg, name, sc.Text())
		}
	}
	if len(inits) == 0 {
		t.Fatalf("no inittrace output: %s", stderr.Bytes())
	}
	t.Logf("inits in the probe binary:\n%s", strings.Join(inits, "\n"))
}

func probeMain(importPath string) string {
	return fmt.Sprintf(`package main

import (
	"fmt"
	"os"

	dec %q
)

func main() {
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	out, err := dec.Decode(src, 1<<30)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(out))
}
`, importPath)
}
