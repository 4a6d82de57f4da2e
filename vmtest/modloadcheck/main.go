//go:build linux

// modloadcheck runs inside a QEMU guest and proves modload and pkg/kmod against a real kernel:
// real finit_module/init_module/delete_module calls, the kernel's request_module reaching
// /sbin/modprobe, softdeps, compressed modules and error reporting.
//
// Synopsis:
//
//	modloadcheck [-checks LIST] [-bench N] [-set MODULES] [-poweroff]
//
// Description:
//
// It may run as /init (PID 1: it mounts /proc, /sys and /dev itself and powers off at the end)
// or as a child of another init. Each check prints exactly one line,
//
//	KMODBOOT-CHECK ok NAME (DETAILS)
//	KMODBOOT-CHECK FAIL NAME: WHY
//
// and the run ends with "KMODBOOT-CHECKS-DONE pass=P fail=F", so a host test expects
// "KMODBOOT-CHECKS-DONE pass=" followed by "fail=0". -bench prints
// "KMODBOOT-BENCH serial=... parallel=... speedup=...". The image it runs in is described in
// vmtest/modloadcheck/README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/pkg/kmod"
	"github.com/kmodboot/kmodboot/pkg/metabuild"
	"github.com/kmodboot/kmodboot/pkg/modindex"
	"github.com/kmodboot/kmodboot/pkg/modinfo"
	"github.com/kmodboot/kmodboot/spec"
)

// modload is the command under test, found by findModload; /sbin/modprobe must be a link to
// it for the kernel's request_module.
var modload string

// findModload returns the first of the usual places that holds modload.
func findModload() string {
	for _, p := range []string{"/sbin/modload", "/bbin/modload", "/bin/modload"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/sbin/modload"
}

// marker is the file mountDisk reads on the ext4 disk.
var marker string

type check struct {
	name string
	run  func() (string, error)
}

func main() {
	checks := flag.String("checks", "auto", "comma-separated checks, or auto for the kernel series' list")
	bench := flag.Int("bench", 0, "rounds of the serial-versus-parallel load benchmark (0: none)")
	set := flag.String("set", "virtio_net,e1000,e1000e,virtio_blk,virtio_scsi,sd_mod,nvme,ahci,ata_piix", "modules for -bench")
	poweroff := flag.Bool("poweroff", os.Getpid() == 1, "power off at the end")
	flag.StringVar(&modload, "modload", findModload(), "the modload binary")
	flag.StringVar(&marker, "marker", "MARKER", "file on the ext4 disk (/dev/vda) to read after mounting it")
	flag.Parse()

	if err := mountAll(); err != nil {
		fmt.Printf("KMODBOOT-CHECK FAIL setup: %v\n", err)
	}
	release := uname()
	all := map[string]check{
		"request-module-mount": {"request-module-mount", checkRequestModuleMount},
		"dep-chain":            {"dep-chain", checkDepChain},
		"remove-shared":        {"remove-shared", checkRemoveShared},
		"remove-ext4":          {"remove-ext4", checkRemoveExt4},
		"softdep-ext4":         {"softdep-ext4", checkSoftdepExt4},
		"userspace-decompress": {"userspace-decompress", checkUserspaceDecompress},
		"kernel-decompress":    {"kernel-decompress", checkKernelDecompress},
		"batch-errors":         {"batch-errors", checkBatchErrors},
	}
	names := strings.Split(*checks, ",")
	if *checks == "auto" {
		if strings.HasPrefix(release, "6.1.") {
			names = []string{"request-module-mount", "remove-ext4", "softdep-ext4", "dep-chain", "remove-shared", "userspace-decompress", "batch-errors"}
		} else {
			names = []string{"kernel-decompress", "request-module-mount", "dep-chain", "remove-shared"}
		}
	}
	pass, fail := 0, 0
	for _, n := range names {
		c, ok := all[n]
		if !ok {
			fmt.Printf("KMODBOOT-CHECK FAIL %s: no such check\n", n)
			fail++
			continue
		}
		start := time.Now()
		detail, err := c.run()
		if err != nil {
			fmt.Printf("KMODBOOT-CHECK FAIL %s: %v\n", c.name, err)
			fail++
			continue
		}
		fmt.Printf("KMODBOOT-CHECK ok %s (%s; %v)\n", c.name, detail, time.Since(start).Round(time.Millisecond))
		pass++
	}
	if *bench > 0 {
		if err := benchmark(*bench, strings.Split(*set, ",")); err != nil {
			fmt.Printf("KMODBOOT-CHECK FAIL bench: %v\n", err)
			fail++
		}
	}
	fmt.Printf("KMODBOOT-CHECKS-DONE pass=%d fail=%d\n", pass, fail)
	if *poweroff {
		unix.Sync()
		if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
			fmt.Printf("modloadcheck: power off: %v\n", err)
		}
		select {}
	}
}

func uname() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// mountAll mounts /proc, /sys and /dev unless they are mounted already.
func mountAll() error {
	for _, m := range []struct{ src, dir, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return err
		}
		err := unix.Mount(m.src, m.dir, m.typ, 0, "")
		if err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.typ, m.dir, err)
		}
	}
	return nil
}

// modloadRun runs /sbin/modload with args and returns its stdout, stderr and error.
func modloadRun(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(modload, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// state returns a module's initstate, "builtin" or "absent".
func state(name string) string {
	data, err := os.ReadFile("/sys/module/" + name + "/initstate")
	if err != nil {
		if _, err := os.Stat("/sys/module/" + name); err == nil || builtin()[name] {
			return "builtin"
		}
		return "absent"
	}
	return strings.TrimSpace(string(data))
}

// builtin returns the names in the image's modules.builtin.
var builtin = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	data, _ := os.ReadFile(filepath.Join("/lib/modules", uname(), "modules.builtin"))
	for _, l := range strings.Fields(string(data)) {
		n := strings.TrimSuffix(filepath.Base(l), ".ko")
		out[strings.ReplaceAll(n, "-", "_")] = true
	}
	return out
})

// want checks that each module is in the given state ("live", "absent", ...).
func want(st string, mods ...string) error {
	var bad []string
	for _, m := range mods {
		if got := state(m); got != st {
			bad = append(bad, m+"="+got)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("want %s: %s", st, strings.Join(bad, " "))
	}
	return nil
}

// waitFor waits up to d for path to exist.
func waitFor(path string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", path, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mountDisk loads the disk driver, waits for /dev/vda and mounts it as ext4 on /mnt, reading
// the marker file the host put on it.
func mountDisk() (string, error) {
	if _, errOut, err := modloadRun("-a", "virtio_pci", "virtio_blk"); err != nil {
		return "", fmt.Errorf("modload -a virtio_pci virtio_blk: %v: %s", err, errOut)
	}
	if err := waitFor("/dev/vda", 10*time.Second); err != nil {
		return "", err
	}
	if err := os.MkdirAll("/mnt", 0o755); err != nil {
		return "", err
	}
	if err := unix.Mount("/dev/vda", "/mnt", "ext4", unix.MS_RDONLY, ""); err != nil {
		return "", fmt.Errorf("mount -t ext4 /dev/vda /mnt: %w", err)
	}
	defer unix.Unmount("/mnt", 0)
	data, err := os.ReadFile(filepath.Join("/mnt", marker))
	if err != nil {
		return "", fmt.Errorf("ext4 mounted but the marker file is unreadable: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// checkRequestModuleMount mounts an ext4 disk with ext4 not loaded: the kernel's
// request_module("fs-ext4") must run /sbin/modprobe (modload), which loads ext4, its
// dependencies and its crc32c softdep.
func checkRequestModuleMount() (string, error) {
	if err := want("absent", "ext4"); err != nil {
		return "", fmt.Errorf("precondition: %w", err)
	}
	helper, _ := os.ReadFile("/proc/sys/kernel/modprobe")
	marker, err := mountDisk()
	if err != nil {
		return "", err
	}
	if err := want("live", "ext4", "jbd2", "mbcache", "crc16"); err != nil {
		return "", err
	}
	crc := "none"
	for _, m := range []string{"crc32c_generic", "crc32c_intel"} {
		if state(m) == "live" {
			crc = m
		}
	}
	if crc == "none" && !strings.HasPrefix(uname(), "6.12") {
		return "", errors.New("no crc32c module loaded: the softdep was not honoured")
	}
	return fmt.Sprintf("helper %s, marker %q, crc32c from %s", strings.TrimSpace(string(helper)), marker, crc), nil
}

// checkRemoveExt4 unloads ext4 and the dependencies nothing else uses.
func checkRemoveExt4() (string, error) {
	if _, errOut, err := modloadRun("-r", "ext4"); err != nil {
		return "", fmt.Errorf("modload -r ext4: %v: %s", err, errOut)
	}
	if err := want("absent", "ext4", "jbd2", "mbcache", "crc16"); err != nil {
		return "", err
	}
	return "ext4, jbd2, mbcache, crc16 unloaded", nil
}

// checkSoftdepExt4 loads ext4 explicitly and checks that its crc32c softdep came first.
func checkSoftdepExt4() (string, error) {
	out, errOut, err := modloadRun("-v", "ext4")
	if err != nil {
		return "", fmt.Errorf("modload -v ext4: %v: %s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	crc, ext4 := -1, -1
	for i, l := range lines {
		switch {
		case strings.Contains(l, "/crc32c"):
			if crc < 0 {
				crc = i
			}
		case strings.Contains(l, "/ext4.ko"):
			ext4 = i
		}
	}
	if crc < 0 || ext4 < 0 || crc > ext4 {
		return "", fmt.Errorf("modload -v ext4 printed %q: want a crc32c module before ext4", lines)
	}
	if err := want("live", "ext4", "crc32c_generic"); err != nil {
		return "", err
	}
	if _, err := mountDisk(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d insmod lines, crc32c first; softdep warnings: %q", len(lines), strings.TrimSpace(errOut)), nil
}

// checkDepChain loads virtio_net, which needs net_failover, which needs failover.
func checkDepChain() (string, error) {
	if err := want("absent", "virtio_net", "net_failover", "failover"); err != nil {
		return "", fmt.Errorf("precondition: %w", err)
	}
	// The virtio PCI transport (a module on 6.1, built in on 6.12) makes the NIC visible.
	if _, errOut, err := modloadRun("virtio_pci"); err != nil {
		return "", fmt.Errorf("modload virtio_pci: %v: %s", err, errOut)
	}
	if _, errOut, err := modloadRun("virtio_net"); err != nil {
		return "", fmt.Errorf("modload virtio_net: %v: %s", err, errOut)
	}
	if err := want("live", "virtio_net", "net_failover", "failover"); err != nil {
		return "", err
	}
	if err := waitFor("/sys/class/net/eth0", 5*time.Second); err != nil {
		return "", fmt.Errorf("virtio_net loaded but bound no NIC: %w", err)
	}
	return "virtio_net, net_failover, failover live; eth0 present", nil
}

// checkRemoveShared unloads virtio_net and its unused dependencies, leaving virtio and
// virtio_ring, which virtio_blk (and virtio_pci) still use. On 6.12 both are built in, and
// stay so.
func checkRemoveShared() (string, error) {
	shared := []string{"virtio", "virtio_ring"}
	before := map[string]string{}
	for _, m := range shared {
		before[m] = state(m)
	}
	if _, errOut, err := modloadRun("-r", "virtio_net"); err != nil {
		return "", fmt.Errorf("modload -r virtio_net: %v: %s", err, errOut)
	}
	if err := want("absent", "virtio_net", "net_failover", "failover"); err != nil {
		return "", err
	}
	var kept []string
	for _, m := range shared {
		if got := state(m); got != before[m] {
			return "", fmt.Errorf("shared dependency %s went from %s to %s", m, before[m], got)
		}
		kept = append(kept, m+" "+before[m])
	}
	return "virtio_net, net_failover, failover unloaded; kept " + strings.Join(kept, ", "), nil
}

// loadTraced loads names with the library and returns each module's result.
func loadTraced(names ...string) (map[string]kmod.Result, error) {
	ix, err := modindex.Open(filepath.Join("/lib/modules", uname(), "meta.pb"))
	if err != nil {
		return nil, err
	}
	return loadWith(kmod.Options{Index: ix}, names...)
}

func loadWith(opts kmod.Options, names ...string) (map[string]kmod.Result, error) {
	l, err := kmod.New(opts)
	if err != nil {
		return nil, err
	}
	var reqs []kmod.Request
	for _, n := range names {
		reqs = append(reqs, kmod.Request{Name: n})
	}
	rs, err := l.LoadAll(context.Background(), reqs)
	out := map[string]kmod.Result{}
	for _, r := range rs {
		out[r.Module] = r
	}
	return out, err
}

// modulePath returns the absolute path of a module of the image's index.
func modulePath(name string) (string, error) {
	dir := filepath.Join("/lib/modules", uname())
	ix, err := modindex.Open(filepath.Join(dir, "meta.pb"))
	if err != nil {
		return "", err
	}
	i, ok := ix.ByName(name)
	if !ok {
		return "", fmt.Errorf("module %s is not in the image's meta.pb: add it to the image", name)
	}
	m, err := ix.Module(i)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, m.GetPath()), nil
}

// compressedTree writes crc_itu_t as .ko.xz and crc8 as .ko.zst (compressing them here when
// the image has them plain) into a module tree of their own with its own meta.pb, and returns
// loader options for it.
func compressedTree() (kmod.Options, error) {
	rel := uname()
	dir := filepath.Join("/tmp/compressed/lib/modules", rel)
	idx := &spec.Index{FormatVersion: spec.FormatVersion, KernelRelease: rel}
	for _, m := range []struct{ name, kind, ext string }{{"crc8", "zstd", ".ko.zst"}, {"crc_itu_t", "xz", ".ko.xz"}} {
		src, err := modulePath(m.name)
		if err != nil {
			return kmod.Options{}, err
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return kmod.Options{}, err
		}
		rp := "kernel/lib/" + strings.TrimSuffix(strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)), ".ko") + m.ext
		if modinfo.Compression(src) != m.kind {
			if data, err = modinfo.DecompressBytes(data); err != nil {
				return kmod.Options{}, err
			}
			if data, err = compress(data, m.kind); err != nil {
				return kmod.Options{}, err
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, "kernel/lib"), 0o755); err != nil {
			return kmod.Options{}, err
		}
		if err := os.WriteFile(filepath.Join(dir, rp), data, 0o644); err != nil {
			return kmod.Options{}, err
		}
		idx.Modules = append(idx.Modules, &spec.Module{Name: m.name, Path: rp, Size: uint64(len(data))})
	}
	mt, err := metabuild.BuildMatchTable(nil)
	if err != nil {
		return kmod.Options{}, err
	}
	idx.Match = mt
	data, err := proto.Marshal(idx)
	if err != nil {
		return kmod.Options{}, err
	}
	ix, err := modindex.Decode(data, "compressed test index")
	if err != nil {
		return kmod.Options{}, err
	}
	return kmod.Options{Index: ix, ModuleDir: dir}, nil
}

func compress(data []byte, kind string) ([]byte, error) {
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch kind {
	case "xz":
		w, err = xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&b)
	case "zstd":
		w, err = zstd.NewWriter(&b)
	default:
		err = fmt.Errorf("no compressor for %q", kind)
	}
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// checkUserspaceDecompress loads a .ko.xz and a .ko.zst on a kernel without in-kernel
// decompression: they must go through init_module.
func checkUserspaceDecompress() (string, error) {
	if _, err := os.Stat("/sys/module/compression"); err == nil {
		return "", errors.New("precondition: /sys/module/compression exists: the kernel decompresses itself")
	}
	opts, err := compressedTree()
	if err != nil {
		return "", err
	}
	rs, err := loadWith(opts, "crc_itu_t", "crc8")
	if err != nil {
		return "", err
	}
	var detail []string
	for _, m := range []string{"crc_itu_t", "crc8"} {
		r := rs[m]
		if r.State != kmod.StateLoaded || r.Call != "init_module" {
			return "", fmt.Errorf("%s (%s): state %v call %q, want loaded with init_module", m, r.Path, r.State, r.Call)
		}
		detail = append(detail, filepath.Base(r.Path)+" via "+r.Call)
	}
	return strings.Join(detail, ", "), want("live", "crc_itu_t", "crc8")
}

// checkKernelDecompress loads .ko.xz modules on a kernel that decompresses xz itself.
func checkKernelDecompress() (string, error) {
	comp, err := os.ReadFile("/sys/module/compression")
	if err != nil {
		return "", fmt.Errorf("precondition: %w", err)
	}
	rs, err := loadTraced("crc_itu_t")
	if err != nil {
		return "", err
	}
	r := rs["crc_itu_t"]
	if r.State != kmod.StateLoaded || r.Call != "finit_module(compressed)" || !strings.HasSuffix(r.Path, ".ko.xz") {
		return "", fmt.Errorf("crc_itu_t (%s): state %v call %q, want loaded with finit_module(compressed)", r.Path, r.State, r.Call)
	}
	return fmt.Sprintf("kernel decompresses %s; %s via %s", strings.TrimSpace(string(comp)), filepath.Base(r.Path), r.Call), nil
}

// checkBatchErrors loads a corrupt module (it overwrites the image's crc7.ko), a missing one
// (it deletes bch.ko) and a good one: the good one loads and the errors say what and where.
func checkBatchErrors() (string, error) {
	crc7, err := modulePath("crc7")
	if err != nil {
		return "", err
	}
	bch, err := modulePath("bch")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(crc7, bytes.Repeat([]byte("not an ELF file "), 256), 0o644); err != nil {
		return "", fmt.Errorf("corrupt %s: %w", crc7, err)
	}
	if err := os.Remove(bch); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	_, errOut, err := modloadRun("-a", "crc7", "bch", "ts_kmp")
	if err == nil {
		return "", errors.New("modload -a crc7 bch ts_kmp succeeded with a corrupt and a missing module")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		return "", fmt.Errorf("modload exit: %v, want status 1", err)
	}
	for _, s := range []string{"load crc7 (" + crc7 + "): finit_module: exec format error", "built for another kernel",
		"load bch (" + bch + "): open: no such file or directory", "missing from the image"} {
		if !strings.Contains(errOut, s) {
			return "", fmt.Errorf("stderr %q does not contain %q", errOut, s)
		}
	}
	if err := want("live", "ts_kmp"); err != nil {
		return "", err
	}
	return fmt.Sprintf("ts_kmp loaded; errors: %q", strings.TrimSpace(errOut)), nil
}

// benchmark loads set with -j 1 and with the default parallelism, unloading in between.
func benchmark(rounds int, set []string) error {
	var serial, parallel []time.Duration
	for i := 0; i < rounds; i++ {
		for _, j := range []string{"1", "0"} {
			args := append([]string{"-j", j, "-a"}, set...)
			start := time.Now()
			if _, errOut, err := modloadRun(args...); err != nil {
				return fmt.Errorf("modload %v: %v: %s", args, err, errOut)
			}
			d := time.Since(start)
			if j == "1" {
				serial = append(serial, d)
			} else {
				parallel = append(parallel, d)
			}
			for _, m := range set {
				modloadRun("-r", m)
			}
			// Leave only what the benchmark set did not load.
			if state(set[0]) != "absent" {
				return fmt.Errorf("%s still loaded after modload -r", set[0])
			}
		}
	}
	// One more parallel load through the library, to show where the time goes.
	rs, err := loadTraced(set...)
	if err != nil {
		return err
	}
	var slow []string
	for _, r := range rs {
		if r.Call != "" {
			slow = append(slow, fmt.Sprintf("%s=%v", r.Module, r.Duration().Round(time.Millisecond)))
		}
	}
	slices.Sort(slow)
	fmt.Printf("KMODBOOT-BENCH per-module %s\n", strings.Join(slow, " "))
	s, p := median(serial), median(parallel)
	fmt.Printf("KMODBOOT-BENCH set=%s rounds=%d serial=%v parallel=%v speedup=%.2fx\n",
		strings.Join(set, ","), rounds, s.Round(time.Millisecond), p.Round(time.Millisecond), float64(s)/float64(p))
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
