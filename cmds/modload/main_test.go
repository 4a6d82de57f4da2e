package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kmodboot/kmodboot/pkg/kmod/kmodtest"
)

const release = "6.1.0-test-amd64"

var tree = []kmodtest.Module{
	{Name: "virtio_ring"},
	{Name: "virtio", Depends: []string{"virtio_ring"}},
	{Name: "failover"},
	{Name: "net_failover", Depends: []string{"failover"}},
	{Name: "virtio_net", Depends: []string{"net_failover", "virtio", "virtio_ring"}, Aliases: []string{"virtio:d00000001v*"}},
	{Name: "crc32c_generic", Aliases: []string{"crypto-crc32c"}},
	{Name: "crc16"},
	{Name: "mbcache"},
	{Name: "jbd2", SoftdepPre: []string{"crypto-crc32c"}},
	{Name: "ext4", Depends: []string{"crc16", "mbcache", "jbd2"}, SoftdepPre: []string{"crypto-crc32c"}, Aliases: []string{"fs-ext4"}},
	{Name: "e1000"},
	{Name: "pcspkr", Aliases: []string{"platform:pcspkr"}},
	{Name: "unix", Builtin: true, Aliases: []string{"net-pf-1"}},
	{Name: "broken", Corrupt: true},
	{Name: "xzmod", Compression: "xz", Depends: []string{"virtio"}},
}

type fixture struct {
	root   string
	kernel *kmodtest.Kernel
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	if _, err := kmodtest.WriteTree(root, release, tree); err != nil {
		t.Fatal(err)
	}
	k, err := kmodtest.NewKernel(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/modprobe.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "blacklist pcspkr\noptions e1000 debug=2\nsoftdep e1000 pre: nonexistent-softdep\n"
	if err := os.WriteFile(filepath.Join(root, "etc/modprobe.d/local.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &fixture{root: root, kernel: k}
}

// modload runs the command as name with -d ROOT -S RELEASE prepended.
func (f *fixture) run(name string, args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = run(name, append([]string{"-d", f.root, "-S", release}, args...), &o, &e, f.kernel)
	return o.String(), e.String(), err
}

func TestShowDepends(t *testing.T) {
	f := newFixture(t)
	if err := f.kernel.Preload("crc16"); err != nil { // -D ignores what is loaded
		t.Fatal(err)
	}
	dir := filepath.Join(f.root, "lib/modules", release, "kernel")
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"-D", "virtio_net"}, []string{
			"insmod " + dir + "/failover.ko ",
			"insmod " + dir + "/net_failover.ko ",
			"insmod " + dir + "/virtio_ring.ko ",
			"insmod " + dir + "/virtio.ko ",
			"insmod " + dir + "/virtio_net.ko ",
		}},
		{[]string{"--show-depends", "fs-ext4", "x=1"}, []string{
			"insmod " + dir + "/crc16.ko ",
			"insmod " + dir + "/mbcache.ko ",
			"insmod " + dir + "/crc32c_generic.ko ",
			"insmod " + dir + "/jbd2.ko ",
			"insmod " + dir + "/ext4.ko x=1",
		}},
		{[]string{"-D", "net-pf-1"}, []string{"builtin unix"}},
		{[]string{"-D", "e1000"}, []string{"insmod " + dir + "/e1000.ko debug=2"}},
		{[]string{"-D", "platform:pcspkr"}, nil},
		{[]string{"-D", "-b", "pcspkr"}, nil},
		{[]string{"-D", "pcspkr"}, []string{"insmod " + dir + "/pcspkr.ko "}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, err := f.run("modload", tt.args...)
			if err != nil {
				t.Fatalf("modload %v = %v", tt.args, err)
			}
			var got []string
			if out != "" {
				got = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("modload %v output mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
	if n := len(f.kernel.Calls()); n != 0 {
		t.Errorf("-D made %d system calls", n)
	}
}

func TestDryRunVerbose(t *testing.T) {
	f := newFixture(t)
	if err := f.kernel.Preload("failover"); err != nil {
		t.Fatal(err)
	}
	out, _, err := f.run("modload", "-nv", "virtio_net", "napi_tx=1")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.root, "lib/modules", release, "kernel")
	want := "insmod " + dir + "/net_failover.ko \ninsmod " + dir + "/virtio_ring.ko \ninsmod " + dir + "/virtio.ko \ninsmod " + dir + "/virtio_net.ko napi_tx=1\n"
	if out != want {
		t.Errorf("modload -nv virtio_net = %q, want %q (failover is loaded)", out, want)
	}
	if n := len(f.kernel.Calls()); n != 0 {
		t.Errorf("-n made %d system calls", n)
	}
}

func TestLoadAsModprobe(t *testing.T) {
	f := newFixture(t)
	// How the kernel's request_module runs /sbin/modprobe.
	out, errOut, err := f.run("modprobe", "-q", "--", "fs-ext4")
	if err != nil || out != "" || errOut != "" {
		t.Fatalf("modprobe -q -- fs-ext4 = %v, stdout %q, stderr %q", err, out, errOut)
	}
	loaded := f.kernel.Loaded()
	for _, m := range []string{"ext4", "jbd2", "crc32c_generic", "crc16", "mbcache"} {
		if _, ok := loaded[m]; !ok {
			t.Errorf("modprobe -q -- fs-ext4 did not load %s; loaded: %v", m, loaded)
		}
	}
	out, _, err = f.run("modprobe", "-v", "e1000", "x=1")
	if err != nil {
		t.Fatal(err)
	}
	want := "insmod " + filepath.Join(f.root, "lib/modules", release, "kernel/e1000.ko") + " debug=2 x=1\n"
	if out != want {
		t.Errorf("modprobe -v e1000 x=1 printed %q, want %q", out, want)
	}
	if got := f.kernel.Loaded()["e1000"]; got != "debug=2 x=1" {
		t.Errorf("e1000 loaded with %q, want \"debug=2 x=1\"", got)
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	_, errOut, err := f.run("modprobe", "-q", "--", "fs-nosuchfs")
	if err == nil || errOut != "" {
		t.Errorf("modprobe -q fs-nosuchfs = %v, stderr %q; want failure and silence", err, errOut)
	}
	_, errOut, err = f.run("modload", "fs-nosuchfs")
	if err == nil || !strings.Contains(errOut, "modload: module fs-nosuchfs not found in "+filepath.Join(f.root, "lib/modules", release, "meta.pb")) {
		t.Errorf("modload fs-nosuchfs = %v, stderr %q; want a not-found message", err, errOut)
	}
}

func TestBatchKeepsGoing(t *testing.T) {
	f := newFixture(t)
	_, errOut, err := f.run("modload", "-a", "broken", "virtio_net", "e1000")
	if err == nil {
		t.Fatal("modload -a broken virtio_net e1000 succeeded, want failure")
	}
	for _, want := range []string{"load broken (", "exec format error", "built for another kernel", "softdep nonexistent-softdep of e1000"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not contain %q", errOut, want)
		}
	}
	loaded := f.kernel.Loaded()
	for _, m := range []string{"virtio_net", "e1000"} {
		if _, ok := loaded[m]; !ok {
			t.Errorf("modload -a did not load %s after broken failed; loaded: %v", m, loaded)
		}
	}
}

func TestRemove(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.run("modload", "-a", "virtio_net", "xzmod"); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := f.run("modprobe", "-r", "virtio_net"); err != nil {
		t.Fatalf("modprobe -r virtio_net = %v (%s)", err, errOut)
	}
	loaded := f.kernel.Loaded()
	if len(loaded) != 3 {
		t.Errorf("after -r virtio_net loaded = %v, want xzmod, virtio, virtio_ring", loaded)
	}
	_, errOut, err := f.run("modprobe", "-r", "unix")
	if err == nil || !strings.Contains(errOut, "built in") {
		t.Errorf("modprobe -r unix = %v, stderr %q; want a built-in error", err, errOut)
	}
	_, errOut, err = f.run("modprobe", "-r", "virtio")
	if err == nil || !strings.Contains(errOut, "in use by xzmod") {
		t.Errorf("modprobe -r virtio = %v, stderr %q; want in use", err, errOut)
	}
}

func TestReleaseMismatch(t *testing.T) {
	f := newFixture(t)
	meta := filepath.Join(f.root, "lib/modules", release, "meta.pb")
	_, _, err := f.run("modload", "-S", "6.12.0-x", "-meta", meta, "e1000")
	if err == nil || !strings.Contains(err.Error(), "is for kernel "+release+", but the kernel is 6.12.0-x") {
		t.Errorf("modload -S 6.12.0-x -meta %s = %v, want a release error", meta, err)
	}
}

func TestUsage(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.run("modload"); err == nil {
		t.Error("modload without a name succeeded")
	}
	if _, _, err := f.run("modload", "-Z", "x"); err == nil {
		t.Error("modload -Z succeeded")
	}
}

func TestExpandShort(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"-qv", "--", "-x"}, []string{"-q", "-v", "--", "-x"}},
		{[]string{"-d", "-qv", "-nD", "m", "-qv"}, []string{"-d", "-qv", "-n", "-D", "m", "-qv"}},
		{[]string{"-meta", "f", "--show-depends", "-S=6.1"}, []string{"-meta", "f", "--show-depends", "-S=6.1"}},
		{[]string{"-rq", "a"}, []string{"-r", "-q", "a"}},
	}
	for _, tt := range tests {
		if got := expandShort(tt.in); !cmp.Equal(got, tt.want) {
			t.Errorf("expandShort(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
