package kmod_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kmodboot/kmodboot/pkg/kmod"
	"github.com/kmodboot/kmodboot/pkg/kmod/kmodtest"
	"github.com/kmodboot/kmodboot/pkg/modindex"
)

const release = "6.1.0-test-amd64"

// tree is a small but realistic module graph, taken from Debian's 6.1 modules.dep/softdep.
var tree = []kmodtest.Module{
	{Name: "virtio_ring"},
	{Name: "virtio", Depends: []string{"virtio_ring"}},
	{Name: "failover"},
	{Name: "net_failover", Depends: []string{"failover"}},
	{Name: "virtio_net", Depends: []string{"net_failover", "virtio", "virtio_ring"}, Aliases: []string{"virtio:d00000001v*"}},
	{Name: "crc32c_generic", Aliases: []string{"crypto-crc32c", "crc32c"}},
	{Name: "crc16"},
	{Name: "mbcache"},
	{Name: "jbd2", SoftdepPre: []string{"crypto-crc32c"}},
	{Name: "ext4", Depends: []string{"crc16", "mbcache", "jbd2"}, SoftdepPre: []string{"crypto-crc32c"}, Aliases: []string{"fs-ext4"}},
	{Name: "e1000", Aliases: []string{"pci:v00008086d0000100Esv*sd*bc*sc*i*"}},
	{Name: "e1000e", Aliases: []string{"pci:v00008086d000010D3sv*sd*bc*sc*i*"}},
	{Name: "unix", Builtin: true, Aliases: []string{"net-pf-1"}},
	{Name: "broken", Corrupt: true},
	{Name: "gone", Missing: true},
	{Name: "uses_broken", Depends: []string{"broken"}},
	{Name: "xzmod", Compression: "xz", Depends: []string{"virtio"}},
	{Name: "zstdmod", Compression: "zstd"},
	{Name: "gzmod", Compression: "gzip"},
	{Name: "pcspkr", Aliases: []string{"platform:pcspkr"}},
	{Name: "soft_user", SoftdepPre: []string{"broken", "no-such-module"}, SoftdepPost: []string{"e1000"}},
	{Name: "nodev"},
}

type env struct {
	root   string
	kernel *kmodtest.Kernel
	loader *kmod.Loader
	index  *modindex.Index
}

// setup writes tree, a fake kernel decompressing kernelComp, and the given modprobe.d text.
func setup(t *testing.T, mods []kmodtest.Module, kernelComp, conf string, opts kmod.Options) *env {
	t.Helper()
	root := t.TempDir()
	meta, err := kmodtest.WriteTree(root, release, mods)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kmodtest.NewKernel(root, kernelComp)
	if err != nil {
		t.Fatal(err)
	}
	if conf != "" {
		if err := os.MkdirAll(filepath.Join(root, "etc/modprobe.d"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/modprobe.d/test.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ix, err := modindex.Open(meta)
	if err != nil {
		t.Fatal(err)
	}
	opts.Index, opts.Root, opts.Release, opts.Kernel = ix, root, release, k
	l, err := kmod.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{root: root, kernel: k, loader: l, index: ix}
}

func states(rs []kmod.Result) map[string]string {
	out := map[string]string{}
	for _, r := range rs {
		out[r.Module] = r.State.String()
	}
	return out
}

func TestLoadDependencyOrder(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{Parallel: 4})
	rs, err := e.loader.Load(context.Background(), "virtio_net", "")
	if err != nil {
		t.Fatalf("Load(virtio_net) = %v", err)
	}
	want := map[string]string{"virtio_ring": "loaded", "virtio": "loaded", "failover": "loaded", "net_failover": "loaded", "virtio_net": "loaded"}
	if diff := cmp.Diff(want, states(rs)); diff != "" {
		t.Errorf("Load(virtio_net) states mismatch (-want +got):\n%s", diff)
	}
	// The fake kernel refuses a module whose dependencies are not live, so success proves the
	// order; check the plan order too.
	pos := map[string]int{}
	for i, r := range rs {
		pos[r.Module] = i
	}
	for _, p := range [][2]string{{"failover", "net_failover"}, {"net_failover", "virtio_net"}, {"virtio_ring", "virtio"}, {"virtio", "virtio_net"}} {
		if pos[p[0]] > pos[p[1]] {
			t.Errorf("Load(virtio_net) results put %s after %s: %v", p[0], p[1], rs)
		}
	}
	via := map[string]string{}
	for _, r := range rs {
		via[r.Module] = r.Via
	}
	if via["failover"] != "net_failover" || via["net_failover"] != "virtio_net" || via["virtio_net"] != "" {
		t.Errorf("Load(virtio_net) Via = %v, want failover via net_failover via virtio_net", via)
	}
	// A second request finds everything loaded and makes no system call.
	n := len(e.kernel.Calls())
	rs, err = e.loader.Load(context.Background(), "virtio-net", "")
	if err != nil || rs[len(rs)-1].State != kmod.StateAlready {
		t.Errorf("second Load(virtio-net) = %v, %v; want already", rs, err)
	}
	if got := len(e.kernel.Calls()); got != n {
		t.Errorf("second Load made %d system calls, want 0", got-n)
	}
}

// TestPlainModuleUsesFinit fails on u-root's path, which read plain .ko files and called
// init_module (never finit_module).
func TestPlainModuleUsesFinit(t *testing.T) {
	e := setup(t, tree, "xz", "", kmod.Options{})
	if _, err := e.loader.Load(context.Background(), "ext4", ""); err != nil {
		t.Fatalf("Load(ext4) = %v", err)
	}
	calls := e.kernel.Calls()
	if len(calls) != 5 {
		t.Errorf("Load(ext4) made %d calls, want 5: %+v", len(calls), calls)
	}
	for _, c := range calls {
		if c.Op != "finit_module" || c.Flags != 0 {
			t.Errorf("plain module %s loaded with %s flags %d, want finit_module flags 0", c.Module, c.Op, c.Flags)
		}
	}
}

// kernelReturning wraps the fake kernel and makes finit_module of one module return err
// without loading it.
type kernelReturning struct {
	*kmodtest.Kernel
	module string
	err    error
}

func (k kernelReturning) FinitModule(fd int, params string, flags int) error {
	if p, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); strings.Contains(filepath.Base(p), k.module+".ko") {
		return k.err
	}
	return k.Kernel.FinitModule(fd, params, flags)
}

// TestErrnoClassification fails on Monogon's inverted check (err != nil && errors.Is(err,
// EEXIST) reported as failure, everything else as success).
func TestErrnoClassification(t *testing.T) {
	tests := []struct {
		errno     error
		wantState kmod.State
		wantErr   bool
		hint      string
	}{
		{nil, kmod.StateLoaded, false, ""},
		{syscall.EEXIST, kmod.StateAlready, false, ""},
		{syscall.ENOENT, kmod.StateFailed, true, "see dmesg"},
		{syscall.EINVAL, kmod.StateFailed, true, "see dmesg"},
		{syscall.ENOEXEC, kmod.StateFailed, true, "built for another kernel"},
		{keyRejected, kmod.StateFailed, true, "signature"},
		{syscall.EBADMSG, kmod.StateFailed, true, "signature"},
		{syscall.ENODEV, kmod.StateFailed, true, "no such hardware"},
		{syscall.EPERM, kmod.StateFailed, true, "CAP_SYS_MODULE"},
		{syscall.ENOMEM, kmod.StateFailed, true, "out of memory"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.errno), func(t *testing.T) {
			e := setup(t, tree, "", "", kmod.Options{})
			l, err := kmod.New(kmod.Options{Index: e.index, Root: e.root, Release: release, Kernel: kernelReturning{e.kernel, "e1000", tt.errno}})
			if err != nil {
				t.Fatal(err)
			}
			rs, err := l.Load(context.Background(), "e1000", "")
			if (err != nil) != tt.wantErr {
				t.Errorf("Load(e1000) with errno %v: error %v, want error %v", tt.errno, err, tt.wantErr)
			}
			if len(rs) != 1 || rs[0].State != tt.wantState {
				t.Fatalf("Load(e1000) with errno %v = %+v, want one result %v", tt.errno, rs, tt.wantState)
			}
			if !tt.wantErr {
				return
			}
			msg := err.Error()
			for _, want := range []string{"e1000", filepath.Join(e.root, "lib/modules", release, "kernel/e1000.ko"), "finit_module", tt.hint} {
				if !strings.Contains(msg, want) {
					t.Errorf("Load(e1000) error %q does not contain %q", msg, want)
				}
			}
			if !errors.Is(err, tt.errno) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.errno)
			}
			if got, want := errors.Is(err, kmod.ErrNoDevice), tt.errno == syscall.ENODEV; got != want {
				t.Errorf("errors.Is(%v, ErrNoDevice) = %v, want %v", err, got, want)
			}
		})
	}
}

func TestAlreadyLoadedAndComing(t *testing.T) {
	for _, state := range []string{"live", "coming"} {
		t.Run(state, func(t *testing.T) {
			e := setup(t, tree, "", "", kmod.Options{})
			if err := e.kernel.Preload("e1000"); err != nil {
				t.Fatal(err)
			}
			if err := e.kernel.SetState("e1000", state); err != nil {
				t.Fatal(err)
			}
			rs, err := e.loader.Load(context.Background(), "e1000", "")
			if err != nil || len(rs) != 1 || rs[0].State != kmod.StateAlready {
				t.Errorf("Load(e1000) with initstate %s = %+v, %v; want already", state, rs, err)
			}
			if n := len(e.kernel.Calls()); n != 0 {
				t.Errorf("Load(e1000) with initstate %s made %d calls, want 0", state, n)
			}
		})
	}
}

func TestBuiltin(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{})
	for _, name := range []string{"unix", "net-pf-1"} {
		rs, err := e.loader.Load(context.Background(), name, "")
		if err != nil || len(rs) != 1 || rs[0].State != kmod.StateBuiltin || rs[0].Module != "unix" {
			t.Errorf("Load(%q) = %+v, %v; want unix builtin", name, rs, err)
		}
	}
}

func TestCompressed(t *testing.T) {
	tests := []struct {
		module, kernelComp string
		wantCall           string
		wantFlags          int
	}{
		{"xzmod", "xz", "finit_module", kmod.FlagCompressedFile},
		{"xzmod", "", "init_module", 0},
		{"zstdmod", "xz", "init_module", 0},
		{"zstdmod", "zstd", "finit_module", kmod.FlagCompressedFile},
		{"gzmod", "", "init_module", 0},
	}
	for _, tt := range tests {
		t.Run(tt.module+"/kernel="+tt.kernelComp, func(t *testing.T) {
			e := setup(t, tree, tt.kernelComp, "", kmod.Options{})
			rs, err := e.loader.Load(context.Background(), tt.module, "x=1")
			if err != nil {
				t.Fatalf("Load(%s) = %v", tt.module, err)
			}
			last := rs[len(rs)-1]
			if last.State != kmod.StateLoaded || last.Params != "x=1" {
				t.Errorf("Load(%s) = %+v, want loaded with x=1", tt.module, last)
			}
			var c kmodtest.Call
			for _, c = range e.kernel.Calls() {
				if c.Module == strings.TrimSuffix(tt.module, "") && c.Err == nil {
					break
				}
			}
			if c.Module != tt.module || c.Op != tt.wantCall || c.Flags != tt.wantFlags {
				t.Errorf("Load(%s) with kernel compression %q: call %s flags %d, want %s flags %d",
					tt.module, tt.kernelComp, c.Op, c.Flags, tt.wantCall, tt.wantFlags)
			}
		})
	}
}

func TestBatchWithFailures(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{})
	rs, err := e.loader.LoadAll(context.Background(), []kmod.Request{
		{Name: "broken"}, {Name: "virtio_net"}, {Name: "gone"}, {Name: "nonexistent"}, {Name: "uses_broken"}, {Name: "e1000"},
	})
	if err == nil {
		t.Fatal("LoadAll with broken modules returned no error")
	}
	got := states(rs)
	want := map[string]string{"broken": "failed", "gone": "failed", "nonexistent": "failed", "uses_broken": "skipped",
		"virtio_net": "loaded", "net_failover": "loaded", "failover": "loaded", "virtio": "loaded", "virtio_ring": "loaded", "e1000": "loaded"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadAll states mismatch (-want +got):\n%s", diff)
	}
	msg := err.Error()
	for _, want := range []string{
		"load broken (" + filepath.Join(e.root, "lib/modules", release, "kernel/broken.ko") + "): finit_module: exec format error",
		"built for another kernel",
		"load gone (", "no such file or directory", "missing from the image",
		"module nonexistent not found in " + filepath.Join(e.root, "lib/modules", release, "meta.pb"),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("LoadAll error %q does not contain %q", msg, want)
		}
	}
	var nf *modindex.NotFoundError
	if !errors.As(err, &nf) || nf.Name != "nonexistent" {
		t.Errorf("errors.As(%v, *NotFoundError) = %v, want nonexistent", err, nf)
	}
}

func TestSoftdeps(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{Parallel: 3})
	rs, err := e.loader.Load(context.Background(), "fs-ext4", "")
	if err != nil {
		t.Fatalf("Load(fs-ext4) = %v", err)
	}
	order := e.kernel.LoadOrder()
	idx := func(n string) int { return slices.Index(order, n) }
	if idx("crc32c_generic") < 0 || idx("crc32c_generic") > idx("jbd2") || idx("jbd2") > idx("ext4") {
		t.Errorf("Load(fs-ext4) kernel load order %v: want crc32c_generic before jbd2 before ext4", order)
	}
	for _, r := range rs {
		if r.Module == "crc32c_generic" && (!r.Softdep || r.Alias != "crypto-crc32c" || r.Via == "") {
			t.Errorf("Load(fs-ext4): crc32c_generic result %+v, want softdep via jbd2/ext4 with alias crypto-crc32c", r)
		}
		if r.Module == "ext4" && r.Alias != "fs-ext4" {
			t.Errorf("Load(fs-ext4): ext4 Alias = %q, want fs-ext4", r.Alias)
		}
	}

	// A failing or missing softdep does not fail the module; post softdeps load after it.
	rs, err = e.loader.Load(context.Background(), "soft_user", "")
	if err != nil {
		t.Fatalf("Load(soft_user) with failing softdeps = %v, want nil", err)
	}
	got := states(rs)
	want := map[string]string{"broken": "failed", "no-such-module": "failed", "soft_user": "loaded", "e1000": "loaded"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load(soft_user) states mismatch (-want +got):\n%s", diff)
	}
	order = e.kernel.LoadOrder()
	if slices.Index(order, "soft_user") > slices.Index(order, "e1000") {
		t.Errorf("post softdep e1000 loaded before soft_user: %v", order)
	}
}

func TestSoftdepCycle(t *testing.T) {
	mods := []kmodtest.Module{
		{Name: "a", SoftdepPre: []string{"b"}},
		{Name: "b", SoftdepPre: []string{"a"}, SoftdepPost: []string{"a"}},
	}
	e := setup(t, mods, "", "", kmod.Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, n := range []string{"a", "b"} {
			if _, err := e.loader.Load(context.Background(), n, ""); err != nil {
				t.Errorf("Load(%s) = %v", n, err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Load with a softdep cycle did not finish")
	}
}

func TestOptions(t *testing.T) {
	conf := "options e1000 a=1 b=2\noptions pci:v00008086d0000100Esv*sd*bc*sc*i* ignored=1\noptions virtio_net c=3\n"
	e := setup(t, tree, "", conf, kmod.Options{})
	if err := os.MkdirAll(filepath.Join(e.root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.root, "proc/cmdline"), []byte(`quiet e1000.d="x y" virtio-net.e=5`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := kmod.LoadConfig(e.root)
	if err != nil {
		t.Fatal(err)
	}
	l, err := kmod.New(kmod.Options{Index: e.index, Root: e.root, Release: release, Kernel: e.kernel, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Load(context.Background(), "e1000", "z=9"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Load(context.Background(), "virtio:d00000001v00001AF4", ""); err != nil {
		t.Fatal(err)
	}
	loaded := e.kernel.Loaded()
	for mod, want := range map[string]string{"e1000": `a=1 b=2 d="x y" z=9`, "virtio_net": "c=3 e=5", "virtio": ""} {
		if got := loaded[mod]; got != want {
			t.Errorf("%s loaded with params %q, want %q", mod, got, want)
		}
	}
}

func TestBlacklist(t *testing.T) {
	conf := "blacklist pcspkr\nblacklist e1000\nalias my-nic e1000\n"
	tests := []struct {
		name      string
		call      func(l *kmod.Loader) ([]kmod.Result, error)
		names     bool
		wantState kmod.State
	}{
		{"explicit name loads", func(l *kmod.Loader) ([]kmod.Result, error) { return l.Load(context.Background(), "pcspkr", "") }, false, kmod.StateLoaded},
		{"explicit name with -b", func(l *kmod.Loader) ([]kmod.Result, error) { return l.Load(context.Background(), "pcspkr", "") }, true, kmod.StateBlacklisted},
		{"index alias", func(l *kmod.Loader) ([]kmod.Result, error) {
			return l.Load(context.Background(), "platform:pcspkr", "")
		}, false, kmod.StateBlacklisted},
		{"LoadAlias", func(l *kmod.Loader) ([]kmod.Result, error) {
			return l.LoadAlias(context.Background(), "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00")
		}, false, kmod.StateBlacklisted},
		// libkmod treats a modprobe.d alias target as a name: the blacklist needs -b.
		{"config alias", func(l *kmod.Loader) ([]kmod.Result, error) { return l.Load(context.Background(), "my-nic", "") }, false, kmod.StateLoaded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, tree, "", conf, kmod.Options{BlacklistNames: tt.names})
			rs, err := tt.call(e.loader)
			if err != nil || len(rs) != 1 || rs[0].State != tt.wantState {
				t.Errorf("%s = %+v, %v; want one result %v", tt.name, rs, err, tt.wantState)
			}
			if loaded := len(e.kernel.Loaded()) > 0; loaded != (tt.wantState == kmod.StateLoaded) {
				t.Errorf("%s: kernel has %v loaded", tt.name, e.kernel.Loaded())
			}
		})
	}
}

func TestConfigAliasPrecedence(t *testing.T) {
	// The index says fs-ext4 is ext4; modprobe.d says e1000 (absurd, but it must win).
	e := setup(t, tree, "", "alias fs-ext4 e1000\n", kmod.Options{})
	rs, err := e.loader.Load(context.Background(), "fs-ext4", "")
	if err != nil || len(rs) != 1 || rs[0].Module != "e1000" {
		t.Errorf("Load(fs-ext4) with modprobe.d alias = %+v, %v; want e1000 only", rs, err)
	}
}

func TestInstallCommands(t *testing.T) {
	conf := "install e1000 /bin/true\ninstall e1000e /bin/false\ninstall pcspkr /sbin/modprobe --ignore-install pcspkr; echo hi\n"
	e := setup(t, tree, "", conf, kmod.Options{})
	tests := []struct {
		name    string
		want    kmod.State
		wantErr string
	}{
		{"e1000", kmod.StateSkipped, ""},
		{"e1000e", kmod.StateFailed, "install e1000e /bin/false"},
		{"pcspkr", kmod.StateFailed, "shell commands are not supported"},
	}
	for _, tt := range tests {
		rs, err := e.loader.Load(context.Background(), tt.name, "")
		if len(rs) != 1 || rs[0].State != tt.want {
			t.Errorf("Load(%s) = %+v, want %v", tt.name, rs, tt.want)
		}
		if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Load(%s) error = %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
	if n := len(e.kernel.Calls()); n != 0 {
		t.Errorf("install commands made %d system calls, want 0", n)
	}
}

func TestParallelBounded(t *testing.T) {
	var mods []kmodtest.Module
	var reqs []kmod.Request
	for i := range 8 {
		name := fmt.Sprintf("leaf%d", i)
		mods = append(mods, kmodtest.Module{Name: name})
		reqs = append(reqs, kmod.Request{Name: name})
	}
	for _, par := range []int{1, 3} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			e := setup(t, mods, "", "", kmod.Options{Parallel: par})
			e.kernel.Delay = 30 * time.Millisecond
			start := time.Now()
			if _, err := e.loader.LoadAll(context.Background(), reqs); err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			if got := e.kernel.MaxConcurrent(); got != par {
				t.Errorf("LoadAll of 8 independent modules with Parallel=%d ran %d at once, want %d", par, got, par)
			}
			if par > 1 && elapsed > 8*e.kernel.Delay {
				t.Errorf("LoadAll with Parallel=%d took %v, not faster than serial %v", par, elapsed, 8*e.kernel.Delay)
			}
		})
	}
}

func TestCoalescing(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{Parallel: 8})
	e.kernel.Delay = 20 * time.Millisecond
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rs []kmod.Result
			var err error
			if i%2 == 0 {
				rs, err = e.loader.Load(context.Background(), "virtio_net", "")
			} else {
				rs, err = e.loader.LoadAlias(context.Background(), "virtio:d00000001v00001AF4")
			}
			if err == nil && !rs[len(rs)-1].State.OK() {
				err = fmt.Errorf("virtio_net state %v", rs[len(rs)-1].State)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Load(virtio_net) = %v", err)
		}
	}
	count := map[string]int{}
	for _, c := range e.kernel.Calls() {
		count[c.Module]++
	}
	for _, m := range []string{"virtio_ring", "virtio", "failover", "net_failover", "virtio_net"} {
		if count[m] != 1 {
			t.Errorf("40 concurrent requests made %d system calls for %s, want 1", count[m], m)
		}
	}
}

func TestNoDeviceIsBenignSentinel(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{})
	e.kernel.InitErr = map[string]error{"nodev": syscall.ENODEV}
	_, err := e.loader.Load(context.Background(), "nodev", "")
	if !errors.Is(err, kmod.ErrNoDevice) {
		t.Errorf("Load(nodev) = %v, want errors.Is ErrNoDevice", err)
	}
	_, err = e.loader.Load(context.Background(), "broken", "")
	if err == nil || errors.Is(err, kmod.ErrNoDevice) {
		t.Errorf("Load(broken) = %v, want an error that is not ErrNoDevice", err)
	}
}

func TestReleaseMismatch(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{})
	_, err := kmod.New(kmod.Options{Index: e.index, Root: e.root, Release: "6.12.0-other", Kernel: e.kernel})
	var re *kmod.ReleaseError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "is for kernel "+release+", but the kernel is 6.12.0-other") {
		t.Errorf("New with another release = %v, want *ReleaseError", err)
	}
}

func TestDryRun(t *testing.T) {
	e := setup(t, tree, "", "options ext4 x=1\n", kmod.Options{DryRun: true, IgnoreLoaded: true})
	if err := e.kernel.Preload("crc16"); err != nil {
		t.Fatal(err)
	}
	rs, err := e.loader.Load(context.Background(), "ext4", "y=2")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Module+":"+r.State.String()+":"+r.Params)
	}
	// libkmod's order: the dependencies, each after its pre softdeps (jbd2 after
	// crc32c_generic), then ext4's own softdeps (already placed), then ext4.
	want := []string{"crc32c_generic:dry-run:", "jbd2:dry-run:", "crc16:dry-run:", "mbcache:dry-run:", "ext4:dry-run:x=1 y=2"}
	if !cmp.Equal(sortedDeps(got), sortedDeps(want)) || slices.Index(got, want[0]) > slices.Index(got, want[1]) || got[len(got)-1] != want[len(want)-1] {
		t.Errorf("dry-run Load(ext4) = %v, want %v (dependencies in any valid order)", got, want)
	}
	if n := len(e.kernel.Calls()); n != 0 {
		t.Errorf("dry run made %d system calls", n)
	}
}

func sortedDeps(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestTrace(t *testing.T) {
	var mu sync.Mutex
	var events []string
	e := setup(t, tree, "", "", kmod.Options{Trace: func(ev kmod.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf("%d:%s", ev.Phase, ev.Result.Module))
	}})
	if _, err := e.loader.Load(context.Background(), "net_failover", ""); err != nil {
		t.Fatal(err)
	}
	want := []string{"1:failover", "2:failover", "1:net_failover", "2:net_failover"}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("trace mismatch (-want +got):\n%s", diff)
	}
}

func TestCancelled(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rs, err := e.loader.Load(ctx, "virtio_net", "")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Load with cancelled context = %v, want context.Canceled", err)
	}
	for _, r := range rs {
		if r.State != kmod.StateSkipped {
			t.Errorf("Load with cancelled context: %s is %v, want skipped", r.Module, r.State)
		}
	}
}

func TestUnload(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{})
	ctx := context.Background()
	for _, n := range []string{"virtio_net", "xzmod"} {
		if _, err := e.loader.Load(ctx, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	// virtio is shared with xzmod: it and virtio_ring stay.
	rs, err := e.loader.Unload(ctx, "virtio_net")
	if err != nil {
		t.Fatalf("Unload(virtio_net) = %v", err)
	}
	want := map[string]string{"virtio_net": "unloaded", "net_failover": "unloaded", "failover": "unloaded", "virtio": "in-use", "virtio_ring": "in-use"}
	if diff := cmp.Diff(want, states(rs)); diff != "" {
		t.Errorf("Unload(virtio_net) states mismatch (-want +got):\n%s", diff)
	}
	loaded := e.kernel.Loaded()
	if _, ok := loaded["virtio"]; !ok || len(loaded) != 3 {
		t.Errorf("after Unload(virtio_net) kernel has %v, want xzmod, virtio, virtio_ring", loaded)
	}

	_, err = e.loader.Unload(ctx, "virtio")
	if !errors.Is(err, kmod.ErrInUse) || !strings.Contains(err.Error(), "xzmod") {
		t.Errorf("Unload(virtio) = %v, want in use by xzmod", err)
	}
	_, err = e.loader.Unload(ctx, "unix")
	if !errors.Is(err, kmod.ErrBuiltin) {
		t.Errorf("Unload(unix) = %v, want ErrBuiltin", err)
	}
	_, err = e.loader.Unload(ctx, "e1000")
	if err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("Unload(e1000) = %v, want not loaded", err)
	}
	if _, err := e.loader.Unload(ctx, "xzmod"); err != nil {
		t.Errorf("Unload(xzmod) = %v", err)
	}
	if loaded := e.kernel.Loaded(); len(loaded) != 0 {
		t.Errorf("after Unload(xzmod) kernel has %v, want nothing", loaded)
	}
}

// kernelBusy wraps the fake kernel: finit_module of e1000 spins on the CPU for spin, and of
// e1000e sleeps for sleep, before loading the module.
type kernelBusy struct {
	*kmodtest.Kernel
	spin, sleep time.Duration
}

func (k kernelBusy) FinitModule(fd int, params string, flags int) error {
	p, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	switch filepath.Base(p) {
	case "e1000.ko":
		for start := time.Now(); time.Since(start) < k.spin; {
		}
	case "e1000e.ko":
		time.Sleep(k.sleep)
	}
	return k.Kernel.FinitModule(fd, params, flags)
}

// TestCallCPU: Result.CPU is the CPU time the calling thread used in the call, not the call's
// duration: a call that spins counts, one that sleeps does not.
func TestCallCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread CPU clocks are read on Linux only")
	}
	const spin, sleep = 60 * time.Millisecond, 60 * time.Millisecond
	e := setup(t, tree, "", "", kmod.Options{})
	l, err := kmod.New(kmod.Options{Index: e.index, Root: e.root, Release: release, Kernel: kernelBusy{e.kernel, spin, sleep}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		module  string
		min     time.Duration
		max     time.Duration
		minTook time.Duration
	}{
		// A spin of 60 ms on a busy machine gets less than 60 ms of CPU, but most of it.
		{module: "e1000", min: spin / 3, max: 10 * spin},
		{module: "e1000e", min: 0, max: sleep / 3, minTook: sleep},
	} {
		rs, err := l.Load(context.Background(), tc.module, "")
		if err != nil || len(rs) != 1 {
			t.Fatalf("Load(%s) = %+v, %v", tc.module, rs, err)
		}
		r := rs[0]
		if r.CPU < tc.min || r.CPU > tc.max || r.Duration() < tc.minTook {
			t.Errorf("%s: CPU %v in a call of %v, want CPU in [%v, %v] and the call at least %v", tc.module, r.CPU, r.Duration(), tc.min, tc.max, tc.minTook)
		}
	}
}
