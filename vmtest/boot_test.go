package vmtest

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hugelgupf/vmtest/qemu"
)

// nicDrivers is the driver each NIC model binds on both kernels. QEMU's rtl8139 is an 8139C+,
// which 8139too refuses in favour of 8139cp.
var nicDrivers = map[string]string{
	"virtio-net-pci": "virtio_net",
	"e1000":          "e1000",
	"e1000e":         "e1000e",
	"rtl8139":        "8139cp",
	"vmxnet3":        "vmxnet3",
}

// diskDrivers are the modules a disk model needs loaded (besides virtio_pci, built into 6.12).
var diskDrivers = map[string][]string{
	"virtio-blk":  {"virtio_blk"},
	"virtio-scsi": {"virtio_scsi", "sd_mod"},
	"nvme":        {"nvme"},
	"ahci":        {"ahci", "sd_mod"},
	"ide":         {"ata_piix", "sd_mod"},
}

// row is one boot of the matrix: its root disk, a data disk and two NICs.
type row struct {
	root, data string
	nics       []string
}

// matrixRows covers every disk model as root once and as data disk once, and every NIC model
// twice, in five boots per kernel.
func matrixRows() []row {
	var rows []row
	n := len(DiskModels)
	for i := 0; i < n; i++ {
		rows = append(rows, row{
			root: DiskModels[i],
			data: DiskModels[(i+2)%n],
			nics: []string{NICModels[i%len(NICModels)], NICModels[(i+1)%len(NICModels)]},
		})
	}
	return rows
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("VM boot skipped with -short")
	}
}

// TestMatrix boots the default image on both kernels with every NIC and disk model and checks
// each boot from the console: drivers loaded by coldplug, a DHCP lease per NIC, the root found
// by label and mounted, the data disk mounted by the new root, and the new root's marker.
func TestMatrix(t *testing.T) {
	skipShort(t)
	for _, series := range []string{"6.1", "6.12"} {
		t.Run(series, func(t *testing.T) {
			k := FetchKernel(t, series)
			img := Image(t, ImageOptions{Kernel: k})
			for i, r := range matrixRows() {
				r := r
				name := fmt.Sprintf("root-%s_data-%s_nic-%s", r.root, r.data, strings.Join(r.nics, "+"))
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					bootRow(t, k, img, i, r)
				})
			}
		})
	}
}

func bootRow(t *testing.T, k Kernel, img string, i int, r row) {
	id := NewID()
	rootLabel := fmt.Sprintf("kmb-root-%d", i)
	dataLabel := fmt.Sprintf("kmb-data-%d", i)
	root := RootDisk(t, RootSpec{Label: rootLabel, ID: id, IPv4: len(r.nics), Data: []string{dataLabel}})
	data := DataDisk(t, dataLabel)
	start := time.Now()
	vm, log := Boot(t, k.Series+"-"+r.root, Machine{
		Kernel: k, Initramfs: img,
		Append: []string{"quiet", "root=LABEL=" + rootLabel, "rootwait=60", "ip=dhcp",
			"kmodboot.coldplug_timeout=90s"},
		NICs:  r.nics,
		Disks: []Disk{{Model: r.root, Image: root}, {Model: r.data, Image: data}},
	})
	ok := log.Wait("KMODBOOT-ROOT-OK "+id, 4*time.Minute)
	elapsed := time.Since(start)
	if err := vm.Wait(); err != nil {
		t.Errorf("VM exit: %v", err)
	}
	out := log.String()
	if !ok {
		t.Fatalf("no KMODBOOT-ROOT-OK %s marker; failures: %q", id, log.Lines("KMODBOOT-ROOT-FAIL"))
	}
	t.Logf("boot to marker: %.1fs (QEMU start to KMODBOOT-ROOT-OK)", elapsed.Seconds())

	mustContain(t, out, "coldplug: ")
	mustMatch(t, out, fmt.Sprintf(`kinit: root=LABEL=%s is /dev/\S+ ext4 LABEL="%s"`, rootLabel, rootLabel))
	mustContain(t, out, fmt.Sprintf("rootinit: data LABEL=%s on ", dataLabel))
	mustMatch(t, out, `rootinit: pid 1, root /dev/\S+ ext4 ro`)
	for j := range r.nics {
		mustMatch(t, out, fmt.Sprintf(`kinit: ip: \S+: DHCP lease %s/24 from 10\.0\.%d\.2`, regexp.QuoteMeta(NICAddress(j)), 2+j))
		mustMatch(t, out, fmt.Sprintf(`rootinit: iface \S+ %s/24`, regexp.QuoteMeta(NICAddress(j))))
	}
	loaded := loadedModules(out)
	var want []string
	for _, n := range r.nics {
		want = append(want, nicDrivers[n])
	}
	want = append(want, diskDrivers[r.root]...)
	want = append(want, diskDrivers[r.data]...)
	want = append(want, "ext4")
	for _, m := range want {
		if !loaded[m] {
			t.Errorf("module %s is not loaded in the new root; loaded: %v", m, sortedKeys(loaded))
		}
	}
}

// loadedModules parses rootinit's "N modules loaded: a b c" line.
func loadedModules(out string) map[string]bool {
	m := map[string]bool{}
	re := regexp.MustCompile(`rootinit: \d+ modules loaded: (.*)`)
	if s := re.FindStringSubmatch(out); s != nil {
		for _, f := range strings.Fields(s[1]) {
			m[f] = true
		}
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustContain(t *testing.T, out, s string) {
	t.Helper()
	if !strings.Contains(out, s) {
		t.Errorf("console output lacks %q", s)
	}
}

func mustMatch(t *testing.T, out, re string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("console output matches no %q", re)
	}
}

// rescueBoot waits for a failed boot's rescue shell, proves it live with rescueCheck, waits for
// the VM to end and returns the console log.
func rescueBoot(t *testing.T, vm *qemu.VM, log *Log) string {
	t.Helper()
	if !log.Wait("kinit: starting rescue shell", 3*time.Minute) {
		vm.Kill()
		vm.Wait()
		t.Fatalf("no rescue shell")
	}
	rescueCheck(t, log, vm.Console)
	vm.Wait()
	return log.String()
}

// rescueCheck types a command into the rescue shell and waits for its output, proving the
// shell is live (the echoed input cannot match: the quotes split the marker).
func rescueCheck(t *testing.T, log *Log, vmConsole interface{ SendLine(string) (int, error) }) {
	t.Helper()
	if _, err := vmConsole.SendLine(`echo KMODBOOT-RESCUE-"OK"`); err != nil {
		t.Fatalf("type into the rescue shell: %v", err)
	}
	if !log.Wait("KMODBOOT-RESCUE-OK", time.Minute) {
		t.Fatalf("the rescue shell did not run a command")
	}
	vmConsole.SendLine("poweroff")
}

// TestRootAbsent boots with root= naming a label no disk carries: kinit must say so, list the
// disks it did find, blame no driver, and open a rescue shell that runs commands.
func TestRootAbsent(t *testing.T) {
	skipShort(t)
	k := FetchKernel(t, "6.1")
	img := Image(t, ImageOptions{Kernel: k})
	data := DataDisk(t, "kmb-other")
	vm, log := Boot(t, "root-absent", Machine{
		Kernel: k, Initramfs: img,
		Append: []string{"quiet", "root=LABEL=kmb-absent", "rootwait=5"},
		NICs:   []string{"e1000"},
		Disks:  []Disk{{Model: "virtio-blk", Image: data}},
	})
	out := rescueBoot(t, vm, log)
	mustContain(t, out, "kinit: boot failed: no device for root=LABEL=kmb-absent after waiting 5s")
	mustMatch(t, out, `kinit:   /dev/vda ext4 LABEL="kmb-other"`)
	mustContain(t, out, "every storage controller has a driver; no disk carries LABEL=kmb-absent")
	if strings.Contains(out, "no driver matched the disk controller") {
		t.Errorf("kinit blamed a driver although the disk controller had one")
	}
}

// TestDriverMissing boots an image whose only storage driver is virtio_blk with the root on
// NVMe: kinit must name the NVMe controller and its modalias as having no driver, and open a
// rescue shell.
func TestDriverMissing(t *testing.T) {
	skipShort(t)
	k := FetchKernel(t, "6.1")
	img := Image(t, ImageOptions{Kernel: k, Classes: []string{}, Modules: []string{"virtio_blk", "virtio_net", "e1000", "ext4"}})
	id := NewID()
	root := RootDisk(t, RootSpec{Label: "kmb-nvme-root", ID: id})
	vm, log := Boot(t, "driver-missing", Machine{
		Kernel: k, Initramfs: img,
		Append: []string{"quiet", "root=LABEL=kmb-nvme-root", "rootwait=5"},
		Disks:  []Disk{{Model: "nvme", Image: root}},
	})
	out := rescueBoot(t, vm, log)
	mustContain(t, out, "kinit: boot failed: no device for root=LABEL=kmb-nvme-root")
	mustMatch(t, out, `no driver matched the disk controller pci \S+ \(NVM Express storage controller, modalias pci:v00001B36d00000010\S+\)`)
	if strings.Contains(out, "KMODBOOT-ROOT-OK") {
		t.Errorf("the root was mounted although the image has no NVMe driver")
	}
}
