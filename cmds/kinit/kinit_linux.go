package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/kmodboot/kmodboot/pkg/blockid"
	"github.com/kmodboot/kmodboot/pkg/bootparam"
	"github.com/u-root/u-root/pkg/dhclient"
	"github.com/u-root/u-root/pkg/mount"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Paths inside the initramfs.
const (
	newRoot       = "/newroot"
	modprobePath  = "/sbin/modprobe"
	searchPath    = "/bbin:/bin:/sbin:/usr/bin:/usr/sbin"
	coldplugRerun = 3 * time.Second
	pollInterval  = 100 * time.Millisecond
)

// rescueShells are tried in order for the rescue shell.
var rescueShells = []string{"/bin/sh", "/bbin/gosh", "/bbin/elvish"}

// kinit is the state of one boot.
type kinit struct {
	out    io.Writer
	params *bootparam.Params
	// netDone is closed when network bring-up has finished (nil when ip= is absent).
	netDone chan struct{}
	// coldplugged is when coldplug last ran, for re-running it while waiting for the root.
	coldplugged time.Time
	// coldplugMissing is set once coldplug was found absent, so it is reported once.
	coldplugMissing bool
}

func run(out io.Writer) {
	log.SetFlags(0)
	log.SetPrefix(name + ": ")
	os.Setenv("PATH", searchPath)
	os.Setenv("HOME", "/")
	if os.Getenv("TERM") == "" {
		os.Setenv("TERM", "linux")
	}
	k := &kinit{out: out}
	for {
		// A panic anywhere in the boot must not take PID 1 down: report it and rescue.
		err := k.safeBoot()
		logf(out, "boot failed: %v", err)
		k.rescue()
		logf(out, "rescue shell left: retrying the boot")
		if k.params != nil {
			k.params.Rescue = false
		}
	}
}

func (k *kinit) safeBoot() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kinit panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return k.boot()
}

// boot returns only on failure; on success it execs the new init.
func (k *kinit) boot() error {
	if k.params == nil {
		k.setup()
	}
	p := k.params
	if p.Rescue {
		return errors.New("kmodboot.rescue is on the kernel command line")
	}
	if p.Root.IsZero() {
		return errors.New("no root= on the kernel command line (e.g. root=LABEL=root or root=/dev/vda1)")
	}
	if p.RootDelay > 0 {
		logf(k.out, "rootdelay: waiting %v", p.RootDelay)
		time.Sleep(p.RootDelay)
	}
	dev, err := k.findRoot()
	if err != nil {
		return err
	}
	if err := k.mountRoot(dev); err != nil {
		return err
	}
	init, err := k.chooseInit()
	if err != nil {
		unix.Unmount(newRoot, 0)
		return err
	}
	k.waitNetwork()
	logf(k.out, "switching root to %s (%s) at %s since boot; exec %s", dev.Path, fsDesc(dev), uptime(), init)
	if len(p.InitArgs) > 0 {
		logf(k.out, "note: arguments after -- (%q) are not passed on by switch_root", p.InitArgs)
	}
	err = mount.SwitchRoot(newRoot, init)
	// SwitchRoot only returns on failure; by then / may already be the new root.
	return fmt.Errorf("switch root to %s and exec %s: %w", newRoot, init, err)
}

// setup runs once per boot: pseudo filesystems, modprobe path, command line, coldplug,
// network.
func (k *kinit) setup() {
	mountPseudo(k.out)
	logf(k.out, "kmodboot init starting at %s since boot", uptime())
	if err := os.WriteFile("/proc/sys/kernel/modprobe", []byte(modprobePath+"\n"), 0o644); err != nil {
		logf(k.out, "cannot point the kernel at %s: %v (request_module will use the built-in path)", modprobePath, err)
	}
	if _, err := os.Lstat(modprobePath); err != nil {
		logf(k.out, "%s is missing from this image: the kernel's request_module calls will fail", modprobePath)
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		logf(k.out, "cannot read the kernel command line: %v", err)
	}
	p, errs := bootparam.Parse(string(cmdline))
	for _, e := range errs {
		logf(k.out, "ignoring %v", e)
	}
	k.params = p
	if p.Coldplug {
		k.coldplug(k.out, p.ColdplugTimeout)
	} else {
		logf(k.out, "coldplug disabled by kmodboot.coldplug=0")
	}
	if p.IP != nil {
		k.netDone = make(chan struct{})
		go func() {
			defer close(k.netDone)
			k.network(p.IP)
		}()
	}
}

// pseudo is one of the filesystems every init mounts before anything else.
type pseudo struct {
	src, target, fstype string
	flags               uintptr
	data                string
}

var pseudoMounts = []pseudo{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
}

func mountPseudo(out io.Writer) {
	for _, m := range pseudoMounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			logf(out, "mkdir %s: %v", m.target, err)
			continue
		}
		if err := unix.Mount(m.src, m.target, m.fstype, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			logf(out, "mount %s on %s: %v", m.fstype, m.target, err)
		}
	}
}

// coldplug runs the coldplug command, streaming its output to w, and returns its output.
func (k *kinit) coldplug(w io.Writer, timeout time.Duration) []byte {
	k.coldplugged = time.Now()
	bin, err := exec.LookPath("coldplug")
	if err != nil {
		if !k.coldplugMissing {
			logf(w, "coldplug is not in this image (%v): no drivers are loaded for the devices present", err)
			k.coldplugMissing = true
		}
		return nil
	}
	var buf bytes.Buffer
	cmd := exec.Command(bin, coldplugArgs(k.params, timeout)...)
	cmd.Stdout = io.MultiWriter(w, &buf)
	cmd.Stderr = io.MultiWriter(w, &buf)
	start := time.Now()
	err = cmd.Run()
	status := "ok"
	if err != nil {
		status = err.Error()
	}
	logf(w, "coldplug finished in %.3fs (%s) at %s since boot", time.Since(start).Seconds(), status, uptime())
	return buf.Bytes()
}

// findRoot polls for the device root= names until RootWait runs out, re-running coldplug
// every few seconds for devices that appear late.
func (k *kinit) findRoot() (*blockid.Device, error) {
	p := k.params
	sc := &blockid.Scanner{SysRoot: "/sys", DevRoot: "/dev"}
	start := time.Now()
	deadline := start.Add(p.RootWait)
	var devs []blockid.Device
	for {
		var err error
		devs, err = sc.Scan()
		if err != nil {
			logf(k.out, "scan block devices: %v", err)
		}
		found := blockid.Find(devs, p.Root)
		if len(found) > 0 {
			if len(found) > 1 {
				var names []string
				for _, d := range found {
					names = append(names, d.Path)
				}
				logf(k.out, "root=%s is ambiguous (%s); using %s", p.Root, strings.Join(names, ", "), found[0].Path)
			}
			d := found[0]
			logf(k.out, "root=%s is %s (found after %.3fs)", p.Root, d.String(), time.Since(start).Seconds())
			return &d, nil
		}
		if time.Now().After(deadline) {
			break
		}
		if p.Coldplug && time.Since(k.coldplugged) >= coldplugRerun {
			out := k.coldplug(io.Discard, p.ColdplugTimeout)
			if line := lastLine(out); line != "" {
				logf(k.out, "waiting for root=%s; coldplug again: %s", p.Root, line)
			}
		}
		time.Sleep(pollInterval)
	}
	var list []string
	for i := range devs {
		list = append(list, devs[i].String())
	}
	lines := explainMissingRoot(p.Root.String(), p.RootWait.String(), list, Controllers("/sys"))
	if p.Root.Kind == blockid.KindPath && strings.HasPrefix(p.Root.Value, "/dev/disk/") {
		lines = append(lines, "this initramfs has no udev: /dev/disk/by-* links do not exist; use root=LABEL=, UUID= or PARTUUID=")
	}
	for _, l := range lines {
		logf(k.out, "%s", l)
	}
	return nil, errors.New(lines[0])
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// mountRoot mounts dev on newRoot with the first filesystem type that works.
func (k *kinit) mountRoot(dev *blockid.Device) error {
	p := k.params
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", newRoot, err)
	}
	types := p.RootFSTypes
	if len(types) == 0 && dev.FS != nil && dev.FS.Type != "" {
		types = []string{dev.FS.Type}
	}
	if len(types) == 0 {
		types = blockFilesystems()
	}
	if len(types) == 0 {
		return fmt.Errorf("mount %s: no filesystem type: the superblock matched no known type, rootfstype= is not set and /proc/filesystems lists no block filesystem", dev.Path)
	}
	flags, data := bootparam.MountOptions(p.RootFlags, p.ReadOnly)
	mode := "rw"
	if p.ReadOnly {
		mode = "ro"
	}
	var errs []string
	for _, t := range types {
		err := unix.Mount(dev.Path, newRoot, t, uintptr(flags), data)
		if errors.Is(err, unix.ENODEV) {
			// The kernel asked modprobe for fs-<type> already; ask again, loudly, to show why
			// it failed, and retry once.
			logf(k.out, "the kernel has no %s filesystem; running %s -v fs-%s", t, modprobePath, t)
			cmd := exec.Command(modprobePath, "-v", "fs-"+t)
			cmd.Stdout, cmd.Stderr = k.out, k.out
			if merr := cmd.Run(); merr != nil {
				logf(k.out, "%s fs-%s: %v", modprobePath, t, merr)
			}
			err = unix.Mount(dev.Path, newRoot, t, uintptr(flags), data)
		}
		if err == nil {
			logf(k.out, "mounted %s on %s as %s (%s%s) at %s since boot", dev.Path, newRoot, t, mode, dataDesc(data), uptime())
			return nil
		}
		errs = append(errs, fmt.Sprintf("as %s: %v (%s)", t, err, mountHint(err, t, data)))
	}
	return fmt.Errorf("mount root %s (%s) on %s: %s", dev.Path, mode, newRoot, strings.Join(errs, "; "))
}

func dataDesc(data string) string {
	if data == "" {
		return ""
	}
	return ", " + data
}

// mountHint says what a mount(2) errno usually means for a root filesystem.
func mountHint(err error, fstype, data string) string {
	switch {
	case errors.Is(err, unix.ENODEV):
		return fmt.Sprintf("the kernel has no %s driver: the fs-%s module is not in the image or failed to load", fstype, fstype)
	case errors.Is(err, unix.EINVAL):
		if data != "" {
			return fmt.Sprintf("not a valid %s filesystem, or %s rejects the options %q; see dmesg", fstype, fstype, data)
		}
		return fmt.Sprintf("not a valid %s filesystem; check rootfstype= and dmesg", fstype)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EROFS):
		return "the device is read-only; boot with ro"
	case errors.Is(err, unix.ENXIO), errors.Is(err, unix.ENOENT):
		return "the device node vanished"
	case errors.Is(err, unix.EBUSY):
		return "the device is already mounted or in use"
	case errors.Is(err, unix.EUCLEAN), errors.Is(err, unix.EIO):
		return "the filesystem is damaged or unreadable; run fsck from the rescue shell"
	}
	return "see dmesg"
}

// blockFilesystems lists the filesystems in /proc/filesystems that need a device.
func blockFilesystems() []string {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "nodev") {
			continue
		}
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

// chooseInit returns init= or the first default init that exists in the new root, checking
// that it resolves to an executable file there before the initramfs is deleted.
func (k *kinit) chooseInit() (string, error) {
	cands := bootparam.DefaultInits
	if k.params.Init != "" {
		cands = []string{k.params.Init}
	}
	var tried []string
	for _, c := range cands {
		fi, err := statInRoot(newRoot, c)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			tried = append(tried, fmt.Sprintf("%s: not an executable file (%v)", c, fi.Mode()))
			continue
		}
		return c, nil
	}
	return "", fmt.Errorf("no init on the root filesystem: %s", strings.Join(tried, "; "))
}

// network brings up interfaces as ip= says.
func (k *kinit) network(ip *bootparam.IPConfig) {
	pattern := "^(eth|en)"
	if ip.Device != "" {
		pattern = "^" + regexp.QuoteMeta(ip.Device) + "$"
	}
	ifs, err := dhclient.Interfaces(pattern)
	if err != nil {
		logf(k.out, "ip=: no network interface to configure: %v", err)
		for _, l := range unboundNICs(Controllers("/sys")) {
			logf(k.out, "%s", l)
		}
		return
	}
	if ip.Mode == bootparam.IPStatic {
		k.staticIP(ifs[0], ip)
		return
	}
	// u-root's DHCP client logs every lease as a multi-line packet dump; keep the first line.
	log.SetOutput(firstLines{k.out})
	defer log.SetOutput(os.Stderr)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := dhclient.Config{Timeout: 5 * time.Second, Retries: 4}
	for r := range dhclient.SendRequests(ctx, ifs, true, false, cfg, 15*time.Second) {
		ifname := r.Interface.Attrs().Name
		if r.Err != nil {
			logf(k.out, "ip: %s: no DHCP lease: %v", ifname, r.Err)
			continue
		}
		if err := r.Lease.Configure(); err != nil {
			logf(k.out, "ip: %s: configure lease %s: %v", ifname, r.Lease, err)
			continue
		}
		addr, server := "", ""
		if m4, _ := r.Lease.Message(); m4 != nil {
			addr = (&net.IPNet{IP: m4.YourIPAddr, Mask: m4.SubnetMask()}).String()
			server = m4.ServerIdentifier().String()
		}
		logf(k.out, "ip: %s: DHCP lease %s from %s after %.3fs", ifname, addr, server, time.Since(start).Seconds())
	}
}

// firstLines writes only the first line of each log message.
type firstLines struct{ w io.Writer }

func (f firstLines) Write(p []byte) (int, error) {
	line, _, _ := strings.Cut(string(p), "\n")
	line, _, _ = strings.Cut(line, ": DHCPv4 Message")
	if _, err := io.WriteString(f.w, line+"\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (k *kinit) staticIP(link netlink.Link, ip *bootparam.IPConfig) {
	name := link.Attrs().Name
	pfx, err := ip.Prefix()
	if err != nil {
		logf(k.out, "ip: %s: %v", name, err)
		return
	}
	if err := netlink.LinkSetUp(link); err != nil {
		logf(k.out, "ip: %s: set link up: %v", name, err)
		return
	}
	addr, _ := netlink.ParseAddr(pfx.String())
	if err := netlink.AddrReplace(link, addr); err != nil {
		logf(k.out, "ip: %s: add address %s: %v", name, pfx, err)
		return
	}
	if ip.Gateway.IsValid() {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.IP(ip.Gateway.AsSlice())}
		if err := netlink.RouteReplace(r); err != nil {
			logf(k.out, "ip: %s: default route via %s: %v", name, ip.Gateway, err)
		}
	}
	logf(k.out, "ip: %s: static address %s", name, pfx)
}

func (k *kinit) waitNetwork() {
	if k.netDone == nil {
		return
	}
	select {
	case <-k.netDone:
	default:
		logf(k.out, "waiting for network configuration to finish")
		<-k.netDone
	}
}

// rescue runs a shell on the console until it exits. If no shell exists it waits forever:
// PID 1 must not exit.
func (k *kinit) rescue() {
	for _, sh := range rescueShells {
		if _, err := os.Stat(sh); err != nil {
			continue
		}
		logf(k.out, "starting rescue shell %s; leave it to retry the boot", sh)
		cmd := exec.Command(sh)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				// Setctty fails when stdin is not a terminal; try once without it.
				cmd = exec.Command(sh)
				cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
				if err := cmd.Run(); err != nil {
					logf(k.out, "rescue shell %s: %v", sh, err)
				}
			}
		}
		return
	}
	logf(k.out, "no rescue shell in this image (tried %s); halting here", strings.Join(rescueShells, ", "))
	for {
		time.Sleep(time.Hour)
	}
}

// fsDesc describes a device's filesystem in a few words.
func fsDesc(d *blockid.Device) string {
	if d.FS == nil {
		return "unknown filesystem"
	}
	s := d.FS.Type
	if d.FS.Label != "" {
		s += " LABEL=" + d.FS.Label
	}
	return s
}

// uptime returns the time since boot from /proc/uptime, e.g. "3.42s".
func uptime() string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0] + "s"
}
