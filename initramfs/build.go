package initramfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodboot/kmodboot/pkg/modindex"
	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/uio/llog"
)

// KmodbootCommands are kmodboot's commands that go into every image, as directories under
// cmds/. A command whose directory has no Go files yet is skipped with a warning, so the image
// builds while the tree grows.
var KmodbootCommands = []string{"kinit", "modload", "coldplug", "modmatch"}

// CoreCommands are the u-root commands in the default image: enough to look around, load and
// inspect modules, configure the network and power off from the rescue shell.
var CoreCommands = []string{
	"cat", "cp", "df", "dhclient", "dmesg", "echo", "find", "free", "grep", "gosh",
	"head", "hexdump", "ip", "kill", "ln", "ls", "lsdrivers", "lsmod", "mkdir", "mknod",
	"mount", "mv", "ping", "poweroff", "ps", "pwd", "readlink", "rm", "shutdown", "sleep",
	"sync", "tail", "umount", "uname", "wc",
}

// CorePackage is the import path prefix of CoreCommands.
const CorePackage = "github.com/u-root/u-root/cmds/core/"

// DefaultClasses are mkmeta's classes the default image starts from. The fs class (every
// filesystem in the tree, 45 MiB on Debian 6.1) is replaced by DefaultFilesystems.
var DefaultClasses = []string{"nic", "storage"}

// DefaultFilesystems are the filesystems a local root is found on, with the code pages FAT
// mounts by default; they are added to the default image by name (mkmeta -m).
var DefaultFilesystems = []string{
	"ext4", "xfs", "btrfs", "vfat", "msdos", "exfat", "isofs", "udf", "squashfs",
	"erofs", "overlay", "nls_cp437", "nls_ascii", "nls_utf8", "nls_iso8859-1",
}

// Requested is an alias that a module asks the kernel for at run time (request_module, which
// runs /sbin/modprobe) without declaring it as a dependency or softdep, so that mkmeta's
// closure cannot know it.
type Requested struct {
	// By is the module that asks; Alias is what it asks for.
	By, Alias string
	// Pre are By's own pre softdeps (its modinfo's): a modprobe.d softdep line replaces them,
	// so the line the image carries repeats them.
	Pre []string
}

// DefaultRequested are the Requested aliases of the default image. Each Alias is added to the
// image by alias (mkmeta -m), and lib/modprobe.d/kmodboot.conf makes it a pre softdep of By:
// the provider is loaded before By's init asks for it, so no modprobe process has to start.
// crc64_rocksoft, which every NVMe and SCSI disk driver pulls in through t10-pi, asks the
// crypto API for "crc64-rocksoft" at init: without the provider that request fails, twice
// (crypto-crc64-rocksoft, then crypto-crc64-rocksoft-all), each time after a modprobe process
// has started and searched, and crc64_rocksoft falls back to its slower table code. Its own
// softdep names "crc64", the library module it already depends on.
var DefaultRequested = []Requested{
	{By: "crc64_rocksoft", Alias: "crypto-crc64-rocksoft", Pre: []string{"crc64"}},
}

// requestedConf is the modprobe.d text that makes each Alias a pre softdep of its By.
func requestedConf(reqs []Requested) string {
	var b strings.Builder
	b.WriteString("# Written by kmodboot's initramfs builder: aliases modules request at run time\n" +
		"# (initramfs.DefaultRequested), loaded before the module that requests them.\n")
	for _, r := range reqs {
		fmt.Fprintf(&b, "softdep %s pre: %s\n", r.By, strings.Join(append(append([]string(nil), r.Pre...), r.Alias), " "))
	}
	return b.String()
}

// DefaultDrop are module paths (fnmatch globs against the path below the module root) left
// out of the default image although their class selects them: storage reached over a fabric
// or a network (Fibre Channel, iSCSI, NVMe over Fabrics, InfiniBand, network block devices),
// device-mapper and MD (assembling them needs userspace the image does not ship), test and
// ramdisk drivers, PCMCIA cards, parallel SCSI adapters, USB network adapters, and the large
// data-centre and SoC NIC families whose drivers alone would double the image. Everything a dropped module is needed by is still
// pulled back in by mkmeta's dependency closure. DefaultDrop applies only to the default
// selection; naming classes explicitly gets them whole.
var DefaultDrop = []string{
	// Fabric and network storage.
	"kernel/drivers/scsi/lpfc/*", "kernel/drivers/scsi/qla2xxx/*", "kernel/drivers/scsi/qla4xxx/*",
	"kernel/drivers/scsi/bfa/*", "kernel/drivers/scsi/be2iscsi/*", "kernel/drivers/scsi/bnx2fc/*",
	"kernel/drivers/scsi/bnx2i/*", "kernel/drivers/scsi/cxgbi/*", "kernel/drivers/scsi/fcoe/*",
	"kernel/drivers/scsi/libfc/*", "kernel/drivers/scsi/csiostor/*", "kernel/drivers/scsi/qedi/*",
	"kernel/drivers/scsi/qedf/*", "kernel/drivers/scsi/snic/*", "kernel/drivers/scsi/fnic/*",
	"kernel/drivers/scsi/elx/*", "kernel/drivers/scsi/libiscsi*", "kernel/drivers/scsi/iscsi_*",
	"kernel/drivers/scsi/scsi_transport_fc*", "kernel/drivers/scsi/scsi_transport_iscsi*",
	"kernel/drivers/infiniband/*", "kernel/drivers/target/*",
	"kernel/drivers/nvme/host/nvme-rdma*", "kernel/drivers/nvme/host/nvme-fc*",
	"kernel/drivers/nvme/host/nvme-tcp*", "kernel/drivers/nvme/host/nvme-fabrics*",
	"kernel/drivers/block/drbd/*", "kernel/drivers/block/rbd*", "kernel/drivers/block/nbd*",
	"kernel/drivers/block/rnbd/*", "kernel/drivers/block/aoe/*", "kernel/drivers/block/xen-blkback/*",
	// Device mapper and MD, test and RAM disks, PCMCIA.
	"kernel/drivers/md/*", "kernel/drivers/scsi/scsi_debug*", "kernel/drivers/block/null_blk/*",
	"kernel/drivers/block/brd*", "kernel/drivers/block/zram/*", "kernel/drivers/block/floppy*",
	"kernel/drivers/scsi/pcmcia/*", "kernel/drivers/ata/pata_pcmcia*", "kernel/drivers/net/ethernet/*/*_cs.ko*",
	"kernel/drivers/scsi/ch.ko*", "kernel/drivers/scsi/st.ko*",
	// Parallel SCSI host adapters of the 1990s.
	"kernel/drivers/scsi/aic7xxx/*", "kernel/drivers/scsi/sym53c8xx_2/*", "kernel/drivers/scsi/BusLogic*",
	"kernel/drivers/scsi/advansys*", "kernel/drivers/scsi/initio*", "kernel/drivers/scsi/a100u2w*",
	"kernel/drivers/scsi/dc395x*", "kernel/drivers/scsi/qla1280*", "kernel/drivers/scsi/atp870u*",
	"kernel/drivers/scsi/am53c974*", "kernel/drivers/scsi/esp_scsi*", "kernel/drivers/scsi/wd719x*",
	"kernel/drivers/scsi/dmx3191d*", "kernel/drivers/scsi/qlogicfas408*",
	// USB network adapters and modems (a root reached over USB Ethernet needs a custom image).
	"kernel/drivers/net/usb/*",
	// Data-centre NIC families (25-200 GbE, SmartNICs) and SoC-only Ethernet.
	"kernel/drivers/net/ethernet/mellanox/*", "kernel/drivers/net/ethernet/qlogic/*",
	"kernel/drivers/net/ethernet/chelsio/*", "kernel/drivers/net/ethernet/sfc/*",
	"kernel/drivers/net/ethernet/netronome/*", "kernel/drivers/net/ethernet/cavium/*",
	"kernel/drivers/net/ethernet/huawei/*", "kernel/drivers/net/ethernet/brocade/*",
	"kernel/drivers/net/ethernet/pensando/*", "kernel/drivers/net/ethernet/fungible/*",
	"kernel/drivers/net/ethernet/intel/ice/*", "kernel/drivers/net/ethernet/intel/i40e/*",
	"kernel/drivers/net/ethernet/broadcom/bnx2x/*", "kernel/drivers/net/ethernet/stmicro/*",
	"kernel/drivers/net/ethernet/amd/xgbe/*",
}

// Options describe one image.
type Options struct {
	// RepoRoot is the kmodboot module root (where go.mod is); the build runs there.
	RepoRoot string
	// KernelDir is the unpacked kernel package (scripts/fetch-kernel.sh's output): it holds
	// lib/modules/<Release>.
	KernelDir string
	// Release is the kernel release, e.g. 6.1.0-27-amd64. Empty means the only release under
	// KernelDir/lib/modules.
	Release string
	// Classes selects the module subset (mkmeta -class). Nil means the default selection:
	// DefaultClasses plus DefaultFilesystems and DefaultRequested, minus DefaultDrop.
	Classes []string
	// Modules adds modules by name, glob or alias to the subset (mkmeta -m), e.g. for a test.
	// With Classes empty (not nil) only these and their dependencies are staged, which is how
	// a test builds an image that lacks a driver on purpose.
	Modules []string
	// Drop leaves modules out of the selection by path glob (see DefaultDrop); nil means
	// DefaultDrop for the default selection and nothing otherwise.
	Drop []string
	// NoModules builds an image without any module (for plumbing tests before mkmeta).
	NoModules bool
	// Mkmeta is the mkmeta binary; empty means build ./cmds/mkmeta into TempDir.
	Mkmeta string
	// Commands are the Go packages in the busybox. Nil means the CoreCommands and the
	// KmodbootCommands that exist.
	Commands []string
	// ExtraFiles are added as "hostpath:imagepath" (as uimage.WithFiles).
	ExtraFiles []string
	// Compression is "zstd" (default), "xz" or "none".
	Compression string
	// Output is the image file to write.
	Output string
	// TempDir holds intermediate files; empty means a fresh directory that is removed.
	TempDir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Result describes a built image.
type Result struct {
	Output       string
	Release      string
	CPIOBytes    int64 // uncompressed archive
	Bytes        int64 // the image as written
	BusyboxBytes int64 // bbin/bb
	Modules      int   // module files staged
	ModuleBytes  int64 // their size on disk (as stored in the tree: .ko or .ko.xz)
	Commands     []string
	Elapsed      time.Duration
}

// String summarises r in one line.
func (r *Result) String() string {
	return fmt.Sprintf("%s: %s compressed (%s cpio; busybox %s with %d commands; %d modules, %s) for %s in %.1fs",
		r.Output, mib(r.Bytes), mib(r.CPIOBytes), mib(r.BusyboxBytes), len(r.Commands), r.Modules,
		mib(r.ModuleBytes), r.Release, r.Elapsed.Seconds())
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// Build builds the image o describes.
func Build(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	if o.Output == "" {
		return nil, errors.New("initramfs: no output file given")
	}
	if o.RepoRoot == "" {
		return nil, errors.New("initramfs: no repository root given (the directory with kmodboot's go.mod)")
	}
	release, err := resolveRelease(o)
	if err != nil {
		return nil, err
	}
	tmp := o.TempDir
	if tmp == "" {
		tmp, err = os.MkdirTemp("", "kmodboot-initramfs-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
	}
	res := &Result{Output: o.Output, Release: release}

	files := append([]string(nil), o.ExtraFiles...)
	if !o.NoModules {
		stage := filepath.Join(tmp, "stage")
		if err := stageModules(ctx, o, release, stage, tmp, logw); err != nil {
			return nil, err
		}
		res.Modules, res.ModuleBytes, err = countModules(filepath.Join(stage, "lib", "modules", release))
		if err != nil {
			return nil, err
		}
		files = append(files, filepath.Join(stage, "lib")+":lib")
	}

	cmds := o.Commands
	if cmds == nil {
		cmds = DefaultCommands(ctx, o.RepoRoot, logw)
	}
	res.Commands = cmds
	has := func(name string) bool {
		for _, c := range cmds {
			if filepath.Base(c) == name {
				return true
			}
		}
		return false
	}
	cpioPath := filepath.Join(tmp, "initramfs.cpio")
	buildTmp := filepath.Join(tmp, "uimage")
	if err := os.MkdirAll(buildTmp, 0o755); err != nil {
		return nil, err
	}
	mods := []uimage.Modifier{
		// goshsmall: the rescue shell reads plain lines; gosh's full-screen editor queries
		// the terminal, which a serial console never answers.
		uimage.WithEnv(golang.DisableCGO(), golang.WithGOOS("linux"), golang.WithGOARCH("amd64"),
			golang.WithWorkingDir(o.RepoRoot), golang.WithBuildTag("goshsmall")),
		uimage.WithBaseArchive(uimage.DefaultRamfs()),
		uimage.WithBusyboxCommands(cmds...),
		uimage.WithFiles(files...),
		uimage.WithSkipLDD(),
		uimage.WithTempDir(buildTmp),
		uimage.WithCPIOOutput(cpioPath),
	}
	if has("kinit") {
		mods = append(mods, uimage.WithInit("kinit"))
	}
	if has("gosh") {
		mods = append(mods, uimage.WithShell("gosh"))
	}
	if has("modload") {
		mods = append(mods, uimage.WithSymlink("sbin/modprobe", "modload"))
	}
	fmt.Fprintf(logw, "initramfs: building busybox with %d commands (this takes a while)\n", len(cmds))
	l := llog.New(slog.LevelWarn, llog.WritePrintf(logw))
	if err := uimage.Create(l, mods...); err != nil {
		return nil, fmt.Errorf("initramfs: build the u-root image: %w", err)
	}
	res.BusyboxBytes = busyboxSize(buildTmp)
	fi, err := os.Stat(cpioPath)
	if err != nil {
		return nil, fmt.Errorf("initramfs: the u-root build wrote no archive: %w", err)
	}
	res.CPIOBytes = fi.Size()
	if err := compress(ctx, o.Compression, cpioPath, o.Output); err != nil {
		return nil, err
	}
	if fi, err = os.Stat(o.Output); err != nil {
		return nil, err
	}
	res.Bytes = fi.Size()
	res.Elapsed = time.Since(start)
	return res, nil
}

// resolveRelease finds the kernel release under KernelDir/lib/modules.
func resolveRelease(o Options) (string, error) {
	if o.NoModules && o.Release != "" {
		return o.Release, nil
	}
	if o.KernelDir == "" {
		if o.NoModules {
			return "none", nil
		}
		return "", errors.New("initramfs: no kernel directory given (run scripts/fetch-kernel.sh 6.1)")
	}
	modDir := filepath.Join(o.KernelDir, "lib", "modules")
	if o.Release != "" {
		if _, err := os.Stat(filepath.Join(modDir, o.Release)); err != nil {
			return "", fmt.Errorf("initramfs: kernel release %s: %w", o.Release, err)
		}
		return o.Release, nil
	}
	ents, err := os.ReadDir(modDir)
	if err != nil {
		return "", fmt.Errorf("initramfs: kernel directory %s has no lib/modules: %w", o.KernelDir, err)
	}
	var rels []string
	for _, e := range ents {
		if e.IsDir() {
			rels = append(rels, e.Name())
		}
	}
	if len(rels) != 1 {
		return "", fmt.Errorf("initramfs: %s holds %d releases (%s); name one", modDir, len(rels), strings.Join(rels, ", "))
	}
	return rels[0], nil
}

// DefaultCommands lists CoreCommands and the KmodbootCommands present under RepoRoot/cmds.
// A command whose package does not resolve (a missing import while the tree is being
// written) is left out with a warning; compile errors still fail the build.
func DefaultCommands(ctx context.Context, repo string, logw io.Writer) []string {
	var cmds []string
	for _, c := range CoreCommands {
		cmds = append(cmds, CorePackage+c)
	}
	for _, c := range KmodbootCommands {
		dir := filepath.Join(repo, "cmds", c)
		if m, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(m) == 0 {
			fmt.Fprintf(logw, "initramfs: warning: cmds/%s does not exist yet; the image is built without it\n", c)
			continue
		}
		cmd := exec.CommandContext(ctx, "go", "list", "-e", "-deps", "-f",
			"{{with .Error}}{{.}}{{end}}{{range .DepsErrors}}{{.}}{{end}}", "./cmds/"+c)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if msg := strings.TrimSpace(string(out)); err != nil || msg != "" {
			fmt.Fprintf(logw, "initramfs: warning: cmds/%s does not resolve (%v %s); the image is built without it\n", c, err, abbreviate(msg, 200))
			continue
		}
		cmds = append(cmds, "./cmds/"+c)
	}
	return cmds
}

// stageModules runs mkmeta to copy the subset and write meta.pb under stage.
func stageModules(ctx context.Context, o Options, release, stage, tmp string, logw io.Writer) error {
	mk := o.Mkmeta
	if mk == "" {
		if m, _ := filepath.Glob(filepath.Join(o.RepoRoot, "cmds", "mkmeta", "*.go")); len(m) == 0 {
			return errors.New("initramfs: cmds/mkmeta does not exist yet, so no module subset can be staged; build with NoModules (-no-modules)")
		}
		mk = filepath.Join(tmp, "mkmeta")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", mk, "./cmds/mkmeta")
		cmd.Dir, cmd.Stdout, cmd.Stderr = o.RepoRoot, logw, logw
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("initramfs: build cmds/mkmeta: %w", err)
		}
	}
	classes, names, drop := o.Classes, o.Modules, o.Drop
	defaultSelection := classes == nil
	if defaultSelection {
		classes = DefaultClasses
		names = append(append([]string(nil), DefaultFilesystems...), names...)
		for _, r := range DefaultRequested {
			names = append(names, r.Alias)
		}
		if drop == nil {
			drop = DefaultDrop
		}
	}
	if len(classes) == 0 && len(names) == 0 {
		return errors.New("initramfs: empty module selection: give classes or modules, or build with NoModules")
	}
	args := []string{"-root", o.KernelDir, "-r", release}
	if len(drop) > 0 {
		// mkmeta selects by class and name only: list the classes' modules, drop by path,
		// and pass the survivors by name.
		kept, dropped, err := selectWithout(ctx, mk, args, classes, drop, tmp)
		if err != nil {
			return err
		}
		fmt.Fprintf(logw, "initramfs: classes %s: %d modules, %d dropped by path\n", strings.Join(classes, ","), len(kept)+dropped, dropped)
		names = append(kept, names...)
		classes = nil
	}
	args = append(args, "-stage", stage)
	if len(classes) > 0 {
		args = append(args, "-class", strings.Join(classes, ","))
	}
	if len(names) > 0 {
		args = append(args, "-m", strings.Join(names, ","))
	}
	fmt.Fprintf(logw, "initramfs: %s %s\n", mk, abbreviate(strings.Join(args, " "), 300))
	cmd := exec.CommandContext(ctx, mk, args...)
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initramfs: stage modules with mkmeta %s: %w", strings.Join(args, " "), err)
	}
	if _, err := os.Stat(filepath.Join(stage, "lib", "modules", release, "meta.pb")); err != nil {
		return fmt.Errorf("initramfs: mkmeta wrote no meta.pb into %s: %w", stage, err)
	}
	if defaultSelection {
		conf := filepath.Join(stage, "lib", "modprobe.d", "kmodboot.conf")
		err := os.MkdirAll(filepath.Dir(conf), 0o755)
		if err == nil {
			err = os.WriteFile(conf, []byte(requestedConf(DefaultRequested)), 0o644)
		}
		if err != nil {
			return fmt.Errorf("initramfs: write the softdeps of DefaultRequested into the staged image: %w (is the temporary directory writable and not full?)", err)
		}
	}
	return nil
}

// selectWithout indexes the classes with mkmeta into a scratch meta.pb and returns the names of
// their driver modules (kernel/drivers/...) whose path matches no drop glob, and how many were
// dropped.
func selectWithout(ctx context.Context, mk string, base, classes, drop []string, tmp string) ([]string, int, error) {
	for _, g := range drop {
		if _, err := path.Match(g, ""); err != nil {
			return nil, 0, fmt.Errorf("initramfs: drop pattern %q: %w", g, err)
		}
	}
	pb := filepath.Join(tmp, "classes.pb")
	args := append(append([]string(nil), base...), "-class", strings.Join(classes, ","), "-o", pb)
	if out, err := exec.CommandContext(ctx, mk, args...).CombinedOutput(); err != nil {
		return nil, 0, fmt.Errorf("initramfs: mkmeta %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	ix, err := modindex.Open(pb)
	if err != nil {
		return nil, 0, fmt.Errorf("initramfs: read the class index: %w", err)
	}
	var kept []string
	dropped := 0
	for i := 0; i < ix.NumModules(); i++ {
		m, err := ix.Module(i)
		if err != nil {
			return nil, 0, fmt.Errorf("initramfs: read the class index: %w", err)
		}
		if m.GetBuiltin() || m.GetPath() == "" {
			continue
		}
		// The index is closed over dependencies: modules outside drivers/ (libceph, dlm,
		// crypto, lib) are there only because some class member needs them. Leave them to
		// the final mkmeta run, which re-adds what the kept modules need.
		if !strings.HasPrefix(m.GetPath(), "kernel/drivers/") {
			continue
		}
		if matchAny(drop, m.GetPath()) {
			dropped++
			continue
		}
		kept = append(kept, m.GetName())
	}
	return kept, dropped, nil
}

// matchAny reports whether p matches one of the globs; "*" also matches across '/' at the
// end of a glob, so "kernel/drivers/md/*" covers the whole directory.
func matchAny(globs []string, p string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
		if strings.HasSuffix(g, "/*") && strings.HasPrefix(p, strings.TrimSuffix(g, "*")) {
			return true
		}
	}
	return false
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}

// countModules counts module files (.ko, .ko.xz, .ko.zst, .ko.gz) under dir.
func countModules(dir string) (n int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isModuleFile(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n++
		bytes += fi.Size()
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("initramfs: count staged modules: %w", err)
	}
	return n, bytes, nil
}

func isModuleFile(name string) bool {
	for _, suf := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// busyboxSize finds the bb binary the gobusybox builder left in its temp dir.
func busyboxSize(dir string) int64 {
	var size int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "bb" {
			if fi, err := d.Info(); err == nil && fi.Size() > size {
				size = fi.Size()
			}
		}
		return nil
	})
	return size
}

// compress writes in to out with the chosen compressor. The kernel unpacks zstd and xz (the
// latter only with CRC32 or no integrity check, hence --check=crc32).
func compress(ctx context.Context, method, in, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	var cmd *exec.Cmd
	switch method {
	case "", "zstd":
		cmd = exec.CommandContext(ctx, "zstd", "-q", "-f", "-19", "-T0", "-o", out, in)
	case "xz":
		cmd = exec.CommandContext(ctx, "sh", "-c", `xz --check=crc32 --x86 --lzma2=preset=9e -T1 -c "$1" >"$2"`, "xz", in, out)
	case "none":
		cmd = exec.CommandContext(ctx, "cp", in, out)
	default:
		return fmt.Errorf("initramfs: unknown compression %q (want zstd, xz or none)", method)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initramfs: compress %s with %s: %v: %s (is the %s package installed? scripts/ci-deps.sh installs it)",
			in, cmd.Args[0], err, strings.TrimSpace(string(b)), method)
	}
	return nil
}
