package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/spec"
)

// sysroot is an unpacked root holding the metabuild fixture tree (real Debian 6.1 modules).
var sysroot = filepath.Join("..", "..", "pkg", "metabuild", "testdata", "tree")

const release = "6.1.0-56-amd64"

func readIndex(t *testing.T, path string) *spec.Index {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var idx spec.Index
	if err := proto.Unmarshal(data, &idx); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &idx
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		args    []string
		out     string // index file to check, relative to dir
		modules int    // modules in it, built-in ones included
		summary string
	}{
		{"sysroot", []string{"-root", sysroot, "-o", "full.pb"}, "full.pb", 17,
			"6.1.0-56-amd64 full tree"},
		{"sysroot and release", []string{"-root", sysroot, "-r", release, "-o", "full2.pb", "-j", "1"}, "full2.pb", 17,
			"13 modules, 4 built-in, 29 alias patterns"},
		{"module tree", []string{"-root", filepath.Join(sysroot, "lib", "modules", release), "-o", "tree.pb"}, "tree.pb", 17,
			"full tree"},
		{"subset", []string{"-root", sysroot, "-class", "fs", "-m", "crc-t10dif,pvpanic", "-o", "sub.pb"}, "sub.pb", 4 + 7,
			"subset class:fs name:crc-t10dif name:pvpanic"},
		{"stage", []string{"-root", sysroot, "-m", "libcrc32c", "-stage", "stage"},
			filepath.Join("stage", "lib", "modules", release, "meta.pb"), 4 + 2, "stage/lib/modules/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := tc.args
			for i, a := range args {
				if i > 0 && (args[i-1] == "-o" || args[i-1] == "-stage") {
					args[i] = filepath.Join(dir, a)
				}
			}
			if err := run(args, &stdout, &stderr); err != nil {
				t.Fatalf("run(%q): %v\nstderr: %s", args, err, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.summary) {
				t.Errorf("run(%q) printed %q, want it to contain %q", args, stdout.String(), tc.summary)
			}
			idx := readIndex(t, filepath.Join(dir, tc.out))
			if n := len(idx.GetModules()); n != tc.modules || idx.GetKernelRelease() != release {
				t.Errorf("run(%q) wrote %d modules for %q, want %d for %s", args, n, idx.GetKernelRelease(), tc.modules, release)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad flag", []string{"-nope"}, "flag provided but not defined"},
		{"stray argument", []string{"-root", sysroot, "ext4"}, "unexpected arguments"},
		{"no such root", []string{"-root", filepath.Join(dir, "none")}, "-root"},
		{"no such release", []string{"-root", sysroot, "-r", "9.9.9"}, "no module tree"},
		{"unknown class", []string{"-root", sysroot, "-class", "gpu", "-o", filepath.Join(dir, "x.pb")}, "unknown module class"},
		{"unknown module", []string{"-root", sysroot, "-m", "nosuch", "-o", filepath.Join(dir, "x.pb")}, "no module or alias"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}
