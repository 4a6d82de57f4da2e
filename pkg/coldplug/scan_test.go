package coldplug

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kmodboot/kmodboot/pkg/coldplug/coldplugtest"
)

// machines are the captured machines; the list is pinned so a missing fixture fails.
var machines = []string{"6.1-q35", "6.1-pc", "6.12-q35"}

func TestMachinesPresent(t *testing.T) {
	if diff := cmp.Diff(machines, coldplugtest.Machines(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("coldplugtest.Machines() mismatch (-want +got):\n%s", diff)
	}
}

func TestScanMachines(t *testing.T) {
	for _, name := range machines {
		t.Run(name, func(t *testing.T) {
			m := loadMachine(t, name)
			root := stage0(t, m)
			res, err := Scan(root)
			if err != nil {
				t.Fatalf("Scan(%s) error: %v", root, err)
			}
			type dev struct{ Path, Modalias, Subsystem string }
			var got, want []dev
			for _, d := range res.Devices {
				got = append(got, dev{d.Path, d.Modalias, d.Subsystem})
				if d.Source != "scan" {
					t.Errorf("Scan: device %s has source %q, want scan", d.Path, d.Source)
				}
			}
			for _, d := range m.Rows {
				if d.Stage == 0 {
					want = append(want, dev{d.Path, d.Modalias, d.Subsystem})
				}
			}
			sort.Slice(want, func(i, j int) bool { return want[i].Path < want[j].Path })
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Scan(%s) devices mismatch (-want +got):\n%s", name, diff)
			}
			if res.Errors != 0 {
				t.Errorf("Scan(%s) counted %d errors, want 0", name, res.Errors)
			}
		})
	}
}

// TestScanStage0Contents pins a few real values, so a fixture regenerated wrongly is noticed.
func TestScanStage0Contents(t *testing.T) {
	scans := map[string]*ScanResult{}
	for _, tc := range []struct {
		machine, path, modalias string
		present                 bool
	}{
		// virtio-net's PCI function exists before any module is loaded...
		{"6.1-q35", "/devices/pci0000:00/0000:00:04.0", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", true},
		// ...but its virtio device only after virtio_pci is loaded (a module in 6.1)...
		{"6.1-q35", "/devices/pci0000:00/0000:00:04.0/virtio0", "virtio:d00000001v00001AF4", false},
		// ...while in 6.12 virtio_pci is built in and the virtio device is there from the start.
		{"6.12-q35", "/devices/pci0000:00/0000:00:04.0/virtio0", "virtio:d00000001v00001AF4", true},
		// The SCSI disk behind ahci appears only after ahci is loaded, in both kernels.
		{"6.1-q35", "/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0", "scsi:t-0x00", false},
		{"6.12-q35", "/devices/pci0000:00/0000:00:1f.2/ata1/host1/target1:0:0/1:0:0:0", "scsi:t-0x00", false},
		// PIIX IDE on the pc machine.
		{"6.1-pc", "/devices/pci0000:00/0000:00:01.1", "pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80", true},
	} {
		t.Run(tc.machine+tc.path, func(t *testing.T) {
			res, ok := scans[tc.machine]
			if !ok {
				m := loadMachine(t, tc.machine)
				root := stage0(t, m)
				var err error
				if res, err = Scan(root); err != nil {
					t.Fatal(err)
				}
				scans[tc.machine] = res
			}
			found := false
			for _, d := range res.Devices {
				if d.Path == tc.path {
					found = true
					if d.Modalias != tc.modalias {
						t.Errorf("Scan: %s has modalias %q, want %q", tc.path, d.Modalias, tc.modalias)
					}
				}
			}
			if found != tc.present {
				t.Errorf("Scan(%s): %s present = %v, want %v", tc.machine, tc.path, found, tc.present)
			}
		})
	}
}

func TestScanEdgeCases(t *testing.T) {
	root := t.TempDir()
	dev := filepath.Join(root, "sys/devices")
	mk := func(rel, content string) {
		p := filepath.Join(dev, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	mk("pci0000:00/0000:00:03.0/modalias", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\n")
	mk("pci0000:00/0000:00:04.0/modalias", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\n") // same modalias
	mk("pci0000:00/0000:00:05.0/modalias", "\n")                                                      // empty: skipped
	mk("pci0000:00/0000:00:06.0/modalias/attr", "not a device\n")                                     // "modalias" is a directory here
	mk("pci0000:00/0000:00:03.0/power/modalias", "never read: power groups are skipped\n")
	mk("platform/serial8250/modalias", "platform:serial8250") // no trailing newline
	// Links are never followed: a loop to the top, a link to a device, a link named modalias.
	os.Symlink("..", filepath.Join(dev, "pci0000:00/loop"))
	os.Symlink("../pci0000:00/0000:00:03.0", filepath.Join(dev, "platform/link-to-pci"))
	os.Symlink("../pci0000:00/0000:00:03.0/modalias", filepath.Join(dev, "platform/modalias"))
	os.MkdirAll(filepath.Join(root, "sys/bus/pci/devices"), 0o755)
	os.Symlink("../../../devices/pci0000:00/0000:00:03.0", filepath.Join(root, "sys/bus/pci/devices/0000:00:03.0"))

	res, err := Scan(root)
	if err != nil {
		t.Fatalf("Scan error: %v", err)
	}
	var got []string
	for _, d := range res.Devices {
		got = append(got, d.Path+" "+d.Modalias)
	}
	want := []string{
		"/devices/pci0000:00/0000:00:03.0 pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
		"/devices/pci0000:00/0000:00:04.0 pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
		"/devices/platform/serial8250 platform:serial8250",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scan devices mismatch (-want +got):\n%s", diff)
	}
}

func TestScanMissingSysfs(t *testing.T) {
	_, err := Scan(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "is sysfs mounted") {
		t.Errorf("Scan(empty dir) error = %v, want one asking whether sysfs is mounted", err)
	}
}

// TestWalkersAgree: the walk used on this system and the portable one find the same devices,
// on every captured machine and on the edge cases.
func TestWalkersAgree(t *testing.T) {
	roots := map[string]string{}
	for _, name := range machines {
		roots[name] = stage0(t, loadMachine(t, name))
	}
	for name, root := range roots {
		t.Run(name, func(t *testing.T) {
			top := filepath.Join(root, "sys/devices")
			var fast, portable ScanResult
			walk(top, &fast)
			walkPortable(top, &portable)
			sortDevices := func(ds []Device) []Device {
				sort.Slice(ds, func(i, j int) bool { return ds[i].Path < ds[j].Path })
				return ds
			}
			if diff := cmp.Diff(sortDevices(portable.Devices), sortDevices(fast.Devices)); diff != "" {
				t.Errorf("walk and walkPortable disagree (-portable +walk):\n%s", diff)
			}
			if fast.Dirs != portable.Dirs || fast.Errors != portable.Errors {
				t.Errorf("walk counted %d dirs %d errors, walkPortable %d dirs %d errors", fast.Dirs, fast.Errors, portable.Dirs, portable.Errors)
			}
			if len(fast.Devices) < 40 {
				t.Errorf("walk found %d devices; the fixture has more", len(fast.Devices))
			}
		})
	}
}

// BenchmarkScan measures a walk of this machine's own sysfs.
func BenchmarkScan(b *testing.B) {
	if _, err := os.Stat("/sys/devices"); err != nil {
		b.Skip("no sysfs")
	}
	for _, tc := range []struct {
		name string
		walk func(string, *ScanResult)
	}{{"walk", walk}, {"portable", walkPortable}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var res ScanResult
				tc.walk("/sys/devices", &res)
				if len(res.Devices) == 0 {
					b.Fatal("no devices")
				}
			}
		})
	}
}
