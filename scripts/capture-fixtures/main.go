// capture-fixtures is the /init of a throw-away initramfs that records what coldplug's tests
// replay: the sysfs modalias files of a QEMU machine before and after its drivers load, and the
// raw uevent datagrams the kernel sent meanwhile. It prints them on the console between markers;
// capture.sh boots it and turns the output into testdata.
//
// Synopsis:
//
//	/init  (as PID 1; kernel command line: capture.rounds=N capture.replug=PCI-ADDRESS)
//
// Description:
//
// It mounts /proc, /sys and /dev, opens a NETLINK_KOBJECT_UEVENT socket, and prints every
// modalias file under /sys/devices ("stage 0"). Then, round by round, it runs busybox's
// `modprobe -b -q` on every modalias not tried yet (the shell loop initramfs scripts use), waits
// for the kernel to settle and prints the tree again, until a round finds nothing new. With
// capture.replug it then removes that PCI function and rescans the bus, so the kernel sends a
// genuine PCI "add". It ends with every uevent received, in hex, and powers the machine off.
package main

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

var (
	mu     sync.Mutex // mu guards events.
	events []string   // "<sender pid> <sender uid> <hex datagram>"
)

func main() {
	start := time.Now()
	for _, m := range []struct{ src, dst, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.typ, 0, ""); err != nil {
			fmt.Printf("capture: mount %s: %v\n", m.dst, err)
		}
	}
	go listen()
	rounds, replug := 6, ""
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if v, ok := strings.CutPrefix(f, "capture.rounds="); ok {
				rounds, _ = strconv.Atoi(v)
			}
			if v, ok := strings.CutPrefix(f, "capture.replug="); ok {
				replug = v
			}
		}
	}
	rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("CAPTURE-BEGIN release=%s\n", strings.TrimSpace(string(rel)))
	tried := map[string]bool{}
	for stage := 0; ; stage++ {
		devs := scan()
		for _, d := range devs {
			fmt.Printf("DEV %d %s\n", stage, d)
		}
		if stage >= rounds {
			break
		}
		var todo []string
		for _, d := range devs {
			alias := d[strings.LastIndexByte(d, '\t')+1:]
			if !tried[alias] {
				tried[alias] = true
				todo = append(todo, alias)
			}
		}
		if len(todo) == 0 {
			break
		}
		t0 := time.Now()
		for _, a := range todo {
			out, err := exec.Command("/bin/busybox", "modprobe", "-b", "-q", a).CombinedOutput()
			if err != nil {
				fmt.Printf("MODPROBE-FAIL %s: %v %s\n", a, err, strings.TrimSpace(string(out)))
			}
		}
		fmt.Printf("ROUND %d modprobe of %d aliases took %v\n", stage, len(todo), time.Since(t0))
		time.Sleep(1500 * time.Millisecond) // let asynchronous SCSI/ATA scans finish
	}
	if replug != "" {
		// Remove a PCI function and rescan the bus: the kernel sends a genuine PCI "add".
		if err := os.WriteFile("/sys/bus/pci/devices/"+replug+"/remove", []byte("1"), 0); err != nil {
			fmt.Printf("capture: replug %s: %v\n", replug, err)
		}
		time.Sleep(500 * time.Millisecond)
		if err := os.WriteFile("/sys/bus/pci/rescan", []byte("1"), 0); err != nil {
			fmt.Printf("capture: rescan: %v\n", err)
		}
		time.Sleep(time.Second)
	}
	if b, err := os.ReadFile("/proc/modules"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				fmt.Printf("MODULE %s\n", f[0])
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	for _, e := range events {
		fmt.Printf("UEVENT %s\n", e)
	}
	mu.Unlock()
	fmt.Printf("CAPTURE-END after %v\n", time.Since(start))
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// scan returns "devpath\tsubsystem\tdriver\tdriver module\tmodalias" for every modalias file, sorted.
func scan() []string {
	var out []string
	filepath.WalkDir("/sys/devices", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "modalias" || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		v := strings.TrimRight(string(b), "\n")
		if v == "" {
			return nil
		}
		dir := filepath.Dir(p)
		out = append(out, fmt.Sprintf("%s\t%s\t%s\t%s\t%s", strings.TrimPrefix(dir, "/sys"),
			link(dir, "subsystem"), link(dir, "driver"), link(dir, "driver/module"), v))
		return nil
	})
	sort.Strings(out)
	return out
}

// listen records every datagram on the kernel's uevent group with its sender.
func listen() {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		fmt.Printf("capture: socket: %v\n", err)
		return
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		fmt.Printf("capture: bind: %v\n", err)
		return
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	buf := make([]byte, 16384)
	oob := make([]byte, 256)
	for {
		n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			mu.Lock()
			events = append(events, "ERROR "+err.Error())
			mu.Unlock()
			continue
		}
		pid, uid := int64(-1), int64(-1)
		if nl, ok := from.(*unix.SockaddrNetlink); ok {
			pid = int64(nl.Pid)
		}
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for i := range msgs {
				if c, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
					uid = int64(c.Uid)
				}
			}
		}
		mu.Lock()
		events = append(events, fmt.Sprintf("%d %d %s", pid, uid, hex.EncodeToString(buf[:n])))
		mu.Unlock()
	}
}

// link returns the last element of the symlink dir/name, or "-" when there is none.
func link(dir, name string) string {
	t, err := os.Readlink(filepath.Join(dir, name))
	if err != nil {
		return "-"
	}
	return filepath.Base(t)
}
