package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/pkg/metabuild"
	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/spec"
)

// writeIndex writes a small meta.pb: rtl8139's two drivers, a built-in with an alias, e1000.
func writeIndex(t *testing.T) string {
	t.Helper()
	mt, err := metabuild.BuildMatchTable([]modalias.Entry{
		{Pattern: "pci:v000010ECd00008139sv*sd*bc*sc*i*", Module: 0},
		{Pattern: "pci:v000010ECd00008139sv*sd*bc*sc*i*", Module: 1},
		{Pattern: "pci:v*d00008139sv000010ECsd00008139bc*sc*i*", Module: 1},
		{Pattern: "pci:v00008086d0000100Esv*sd*bc*sc*i*", Module: 2},
		{Pattern: "fs_vfat", Module: 3, Builtin: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(&spec.Index{
		FormatVersion: spec.FormatVersion,
		KernelRelease: "6.1.0-99-amd64",
		Modules: []*spec.Module{
			{Name: "8139cp", Path: "kernel/drivers/net/ethernet/realtek/8139cp.ko"},
			{Name: "8139too", Path: "kernel/drivers/net/ethernet/realtek/8139too.ko"},
			{Name: "e1000", Path: "kernel/drivers/net/ethernet/intel/e1000/e1000.ko"},
			{Name: "vfat", Builtin: true},
		},
		Match: mt,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "meta.pb")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const rtl = "pci:v000010ECd00008139sv000010ECsd00008139bc02sc00i00"

func TestRun(t *testing.T) {
	meta := writeIndex(t)
	sys := t.TempDir()
	for dev, alias := range map[string]string{
		"pci0000:00/0000:00:03.0": rtl,
		"pci0000:00/0000:00:04.0": rtl,
		"pci0000:00/0000:00:05.0": "pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00",
	} {
		d := filepath.Join(sys, "sys/devices", dev)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "modalias"), []byte(alias+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string // lines that must appear, in order
		wantErr error
	}{
		{"one alias", []string{rtl}, []string{"8139cp", "8139too"}, nil},
		{"explain", []string{"-explain", rtl}, []string{rtl + ":", "8139cp  kernel/drivers/net/ethernet/realtek/8139cp.ko",
			"matched by pattern pci:v000010ECd00008139sv*sd*bc*sc*i*", "8139too", "matched by pattern pci:v*d00008139sv000010ECsd00008139bc*sc*i*"}, nil},
		{"name", []string{"-explain", "e1000"}, []string{"e1000", "matched by its module name"}, nil},
		{"builtin", []string{"fs-vfat"}, []string{"vfat (built in)"}, nil},
		{"several", []string{"fs-vfat", "e1000"}, []string{"fs-vfat: vfat (built in)", "e1000: e1000"}, nil},
		{"no match", []string{"pci:v0000FFFFd0000FFFF"}, []string{"pci:v0000FFFFd0000FFFF: (no module)"}, errNoMatch},
		{"garbage", []string{"pci:]"}, []string{"pci:]: error: alias \"pci:]\""}, errNoMatch},
		{"sysfs", []string{"-sysfs", sys}, []string{rtl + ": 8139cp, 8139too", "device /devices/pci0000:00/0000:00:03.0",
			"device /devices/pci0000:00/0000:00:04.0", "(no module)", "device /devices/pci0000:00/0000:00:05.0"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(append([]string{"-meta", meta}, tc.args...), &out, &errOut)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("run(%q) = %v, want %v", tc.args, err, tc.wantErr)
			}
			rest := out.String()
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("run(%q) output lacks %q (in order) in:\n%s", tc.args, w, out.String())
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestJSON(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-meta", writeIndex(t), "-json", rtl}, &out, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	var got []Answer
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(got) != 1 || len(got[0].Modules) != 2 || got[0].Modules[1].Name != "8139too" || len(got[0].Modules[1].Patterns) != 2 {
		t.Errorf("JSON answer = %+v, want 8139cp and 8139too (two patterns)", got)
	}
}

func TestBadIndex(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"empty.pb":   nil,
		"garbage.pb": []byte("this is not a protobuf\xff\xff"),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		var out, errOut bytes.Buffer
		err := run([]string{"-meta", p, rtl}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("run(-meta %s) = %v, want an error naming the file", name, err)
		}
	}
	if err := run([]string{"-meta", filepath.Join(dir, "missing.pb"), rtl}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "mkmeta") {
		t.Errorf("run(missing index) = %v, want an error that says how to build one", err)
	}
}

// TestRefusedModule: a module whose path leaves the module root is reported as an error naming
// the index, not printed without its file.
func TestRefusedModule(t *testing.T) {
	mt, err := metabuild.BuildMatchTable([]modalias.Entry{{Pattern: "fs_evil", Module: 0}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(&spec.Index{FormatVersion: spec.FormatVersion, KernelRelease: "6.1.0-99-amd64",
		Modules: []*spec.Module{{Name: "evil", Path: "../../../tmp/evil.ko"}}, Match: mt})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "meta.pb")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run([]string{"-meta", p, "fs-evil"}, &out, &out)
	if !errors.Is(err, errNoMatch) || !strings.Contains(out.String(), "error: module index "+p) ||
		!strings.Contains(out.String(), "not a clean path") {
		t.Errorf("run(fs-evil) = %v, output %q; want an error naming %s and the bad path", err, out.String(), p)
	}
}
