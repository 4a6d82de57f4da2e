package kmod

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testdata/root-6.1 was captured from Debian's 6.1 kernel under QEMU after insmod of the
// virtio_net and ext4 chains (see its files).
const fixture61 = "testdata/root-6.1"

func TestReadProcModules(t *testing.T) {
	mods, err := ReadProcModules(fixture61)
	if err != nil {
		t.Fatalf("ReadProcModules(%q) = %v", fixture61, err)
	}
	if len(mods) != 13 {
		t.Errorf("ReadProcModules(%q) = %d modules, want 13", fixture61, len(mods))
	}
	got := procIndex(mods)
	want := map[string]ProcModule{
		"virtio_ring": {Name: "virtio_ring", Size: 49152, Refcount: 3, Holders: []string{"virtio_net", "virtio_pci", "virtio"}, State: "Live"},
		"virtio_net":  {Name: "virtio_net", Size: 73728, Refcount: 0, State: "Live"},
		"failover":    {Name: "failover", Size: 16384, Refcount: 1, Holders: []string{"net_failover"}, State: "Live"},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, got[name]); diff != "" {
			t.Errorf("ReadProcModules: %s mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestParseProcModulesBad(t *testing.T) {
	for _, in := range []string{"x 1 2\n", "x big 0 - Live 0x0\n", "x 1 -3 - Live 0x0\n"} {
		if _, err := ParseProcModules([]byte(in)); err == nil {
			t.Errorf("ParseProcModules(%q) = nil error, want one", in)
		}
	}
	mods, err := ParseProcModules([]byte("nvidia 100 - - Live 0x0 (POE)\n\n"))
	if err != nil || len(mods) != 1 || mods[0].Refcount != -1 {
		t.Errorf("ParseProcModules(no unload) = %+v, %v; want refcount -1", mods, err)
	}
}

func TestReadInitState(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(fixture61)); err != nil {
		t.Fatal(err)
	}
	for name, state := range map[string]string{"coming_mod": "coming\n", "going_mod": "going\n", "weird": "sideways\n"} {
		dir := filepath.Join(root, "sys/module", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "initstate"), []byte(state), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		want    InitState
		wantErr bool
	}{
		{"virtio_net", Live, false},
		{"ext4", Live, false},
		{"xz_dec", Builtin, false}, // built in: /sys/module/xz_dec without initstate
		{"e1000", NotLoaded, false},
		{"coming_mod", Coming, false},
		{"going_mod", Going, false},
		{"weird", NotLoaded, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadInitState(root, tt.name)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ReadInitState(%q) = %v, %v; want %v, error %v", tt.name, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
