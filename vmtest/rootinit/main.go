// rootinit is the /sbin/init of the VM tests' root disks: it proves the system arrived in the
// new root with what the test asked for, prints a marker the host waits for and powers off.
//
// Synopsis:
//
//	/sbin/init    (exec'd by kinit after switch_root, as PID 1)
//
// Description:
//
// rootinit reads /etc/kmodboot/expect, lines of "KEY VALUE":
//
//	id <token>          the boot's unique id, printed in the markers
//	ipv4 <count>        at least this many interfaces must hold an IPv4 address
//	data <label>        a disk with this ext4 label must exist and mount; its /MARKER is printed
//	say <text>          print text first (make demo's greeting)
//
// It prints "rootinit: ..." lines with what it found (root mount, loaded modules, addresses),
// then "KMODBOOT-ROOT-OK <id>" when every expectation holds or "KMODBOOT-ROOT-FAIL <id>:
// <reasons>" when one does not, syncs and powers the machine off. The host side never relies
// on the absence of an error message: it waits for the OK marker.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kmodboot/kmodboot/pkg/blockid"
	"golang.org/x/sys/unix"
)

const expectFile = "/etc/kmodboot/expect"

func main() {
	out := os.Stdout
	id, fails := check(out)
	if len(fails) == 0 {
		fmt.Fprintf(out, "KMODBOOT-ROOT-OK %s\n", id)
	} else {
		fmt.Fprintf(out, "KMODBOOT-ROOT-FAIL %s: %s\n", id, strings.Join(fails, "; "))
	}
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Fprintf(out, "rootinit: power off: %v\n", err)
	}
	for {
		time.Sleep(time.Hour)
	}
}

type expect struct {
	id   string
	ipv4 int
	data []string
	say  []string
}

func readExpect(path string) (*expect, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e := &expect{id: "unknown"}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch key {
		case "id":
			e.id = val
		case "ipv4":
			n, err := strconv.Atoi(val)
			if err != nil {
				return nil, fmt.Errorf("%s: ipv4 %q is not a number", path, val)
			}
			e.ipv4 = n
		case "data":
			e.data = append(e.data, val)
		case "say":
			e.say = append(e.say, val)
		case "", "#":
		default:
			return nil, fmt.Errorf("%s: unknown key %q", path, key)
		}
	}
	return e, sc.Err()
}

// check prints what the new root sees and returns the failed expectations.
func check(out io.Writer) (string, []string) {
	var fails []string
	e, err := readExpect(expectFile)
	if err != nil {
		return "unknown", []string{fmt.Sprintf("read expectations: %v", err)}
	}
	for _, s := range e.say {
		fmt.Fprintln(out, s)
	}
	fmt.Fprintf(out, "rootinit: pid %d, root %s\n", os.Getpid(), rootMount())
	if os.Getpid() != 1 {
		fails = append(fails, fmt.Sprintf("running as pid %d, want 1 (switch_root must exec init as PID 1)", os.Getpid()))
	}
	if mods, err := os.ReadFile("/proc/modules"); err == nil {
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(string(mods)), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				names = append(names, f[0])
			}
		}
		fmt.Fprintf(out, "rootinit: %d modules loaded: %s\n", len(names), strings.Join(names, " "))
	} else {
		fails = append(fails, fmt.Sprintf("read /proc/modules: %v", err))
	}

	n := 0
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
				fmt.Fprintf(out, "rootinit: iface %s %s\n", ifc.Name, ipn)
				n++
			}
		}
	}
	if n < e.ipv4 {
		fails = append(fails, fmt.Sprintf("%d interfaces have an IPv4 address, want %d", n, e.ipv4))
	}

	if len(e.data) > 0 {
		sc := &blockid.Scanner{SysRoot: "/sys", DevRoot: "/dev"}
		devs, err := sc.Scan()
		if err != nil {
			fails = append(fails, fmt.Sprintf("scan block devices: %v", err))
		}
		for _, label := range e.data {
			if err := mountData(out, devs, label); err != nil {
				fails = append(fails, err.Error())
			}
		}
	}
	return e.id, fails
}

// rootMount describes the "/" entry of /proc/self/mounts.
func rootMount() string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	root := "not mounted"
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[1] == "/" {
			root = fmt.Sprintf("%s %s %s", f[0], f[2], f[3])
		}
	}
	return root
}

func mountData(out io.Writer, devs []blockid.Device, label string) error {
	spec, err := blockid.ParseSpec("LABEL=" + label)
	if err != nil {
		return err
	}
	found := blockid.Find(devs, spec)
	if len(found) == 0 {
		return fmt.Errorf("no disk with LABEL=%s", label)
	}
	d := found[0]
	dir := filepath.Join("/run", "data-"+label)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(d.Path, dir, d.FS.Type, unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("mount LABEL=%s (%s) as %s: %v", label, d.Path, d.FS.Type, err)
	}
	marker, err := os.ReadFile(filepath.Join(dir, "MARKER"))
	unix.Unmount(dir, 0)
	if err != nil {
		return fmt.Errorf("LABEL=%s: %v", label, err)
	}
	fmt.Fprintf(out, "rootinit: data LABEL=%s on %s: %s\n", label, d.Path, strings.TrimSpace(string(marker)))
	return nil
}
