package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kmodboot/kmodboot/pkg/bootparam"
)

func mkfile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func TestResolveInRoot(t *testing.T) {
	root := t.TempDir()
	mkfile(t, filepath.Join(root, "usr/lib/systemd/systemd"), "#!", 0o755)
	mkfile(t, filepath.Join(root, "usr/sbin/real-init"), "#!", 0o755)
	// Debian merged /usr: /sbin is a relative link, init an absolute one.
	symlink(t, "usr/sbin", filepath.Join(root, "sbin"))
	symlink(t, "/lib/systemd/systemd", filepath.Join(root, "usr/sbin/init"))
	symlink(t, "usr/lib", filepath.Join(root, "lib"))
	symlink(t, "/sbin/real-init", filepath.Join(root, "etc/init"))
	symlink(t, "loop2", filepath.Join(root, "loop1"))
	symlink(t, "loop1", filepath.Join(root, "loop2"))
	// An absolute link that would escape to the host's / must stay inside root.
	symlink(t, "/../../../../etc/passwd", filepath.Join(root, "bin/escape"))

	for _, tc := range []struct {
		in, want string
	}{
		{"/sbin/init", "/usr/lib/systemd/systemd"},
		{"/etc/init", "/usr/sbin/real-init"},
		{"sbin/../sbin/real-init", "/usr/sbin/real-init"},
		{"/usr/lib/systemd/systemd", "/usr/lib/systemd/systemd"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := resolveInRoot(root, tc.in)
			if err != nil || got != tc.want {
				t.Errorf("resolveInRoot(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
			}
		})
	}
	for _, in := range []string{"/loop1", "/bin/escape", "/absent"} {
		t.Run(in, func(t *testing.T) {
			if got, err := resolveInRoot(root, in); err == nil {
				t.Errorf("resolveInRoot(%q) = %q, nil, want an error", in, got)
			}
		})
	}
	if fi, err := statInRoot(root, "/sbin/init"); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("statInRoot(/sbin/init) = %v, %v, want the regular file systemd", fi, err)
	}
}

// sysfsFixture lays out bus/pci/devices and bus/virtio/devices entries as QEMU's pc machine
// shows them; the class and modalias values were read from such a guest.
func sysfsFixture(t *testing.T, nvmeBound bool) string {
	root := t.TempDir()
	pci := func(addr, class, modalias, driver string) {
		dir := filepath.Join(root, "bus/pci/devices", addr)
		mkfile(t, filepath.Join(dir, "class"), class+"\n", 0o644)
		mkfile(t, filepath.Join(dir, "modalias"), modalias+"\n", 0o644)
		if driver != "" {
			symlink(t, "../../../bus/pci/drivers/"+driver, filepath.Join(dir, "driver"))
		}
	}
	pci("0000:00:00.0", "0x060000", "pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00", "")
	pci("0000:00:01.1", "0x010180", "pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80", "ata_piix")
	pci("0000:00:03.0", "0x020000", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00", "")
	nvmeDriver := ""
	if nvmeBound {
		nvmeDriver = "nvme"
	}
	pci("0000:00:04.0", "0x010802", "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02", nvmeDriver)
	pci("0000:00:05.0", "0x010000", "pci:v00001AF4d00001004sv00001AF4sd00000008bc01sc00i00", "virtio-pci")
	vdir := filepath.Join(root, "bus/virtio/devices/virtio0")
	mkfile(t, filepath.Join(vdir, "device"), "0x0008\n", 0o644)
	mkfile(t, filepath.Join(vdir, "modalias"), "virtio:d00000008v00001AF4\n", 0o644)
	return root
}

func TestControllers(t *testing.T) {
	got := Controllers(sysfsFixture(t, false))
	want := []Controller{
		{Bus: "pci", Addr: "0000:00:01.1", What: "IDE controller", Storage: true,
			Modalias: "pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80", Driver: "ata_piix"},
		{Bus: "pci", Addr: "0000:00:03.0", What: "Ethernet controller",
			Modalias: "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"},
		{Bus: "pci", Addr: "0000:00:04.0", What: "NVM Express storage controller", Storage: true,
			Modalias: "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02"},
		{Bus: "pci", Addr: "0000:00:05.0", What: "SCSI storage controller", Storage: true,
			Modalias: "pci:v00001AF4d00001004sv00001AF4sd00000008bc01sc00i00", Driver: "virtio-pci"},
		{Bus: "virtio", Addr: "virtio0", What: "virtio SCSI host", Storage: true,
			Modalias: "virtio:d00000008v00001AF4"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Controllers() mismatch (-want +got):\n%s", diff)
	}
	if got := Controllers(filepath.Join(t.TempDir(), "absent")); len(got) != 0 {
		t.Errorf("Controllers(absent sysfs) = %v, want none", got)
	}
}

func TestExplainMissingRoot(t *testing.T) {
	for _, tc := range []struct {
		name      string
		devs      []string
		ctrls     []Controller
		want      []string
		wantNotIn []string
	}{
		{
			name:  "driver missing",
			ctrls: Controllers(sysfsFixture(t, false)),
			want: []string{
				"no device for root=LABEL=root after waiting 10s",
				"block devices present: none",
				"no driver matched the disk controller pci 0000:00:04.0 (NVM Express storage controller, modalias pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02)",
				"no driver matched the disk controller virtio virtio0 (virtio SCSI host",
			},
			wantNotIn: []string{"0000:00:03.0", "0000:00:01.1", "every storage controller has a driver"},
		},
		{
			name:  "disk absent",
			devs:  []string{"/dev/sda ext4 LABEL=\"other\""},
			ctrls: []Controller{{Bus: "pci", Addr: "0000:00:01.1", Storage: true, Driver: "ata_piix"}},
			want: []string{
				"block devices present:", `  /dev/sda ext4 LABEL="other"`,
				"every storage controller has a driver; no disk carries LABEL=root",
			},
			wantNotIn: []string{"no driver matched"},
		},
		{
			name: "no controller",
			want: []string{"no storage controller found on PCI or virtio"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(explainMissingRoot("LABEL=root", "10s", tc.devs, tc.ctrls), "\n")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("explainMissingRoot() = \n%s\nwant it to contain %q", got, w)
				}
			}
			for _, w := range tc.wantNotIn {
				if strings.Contains(got, w) {
					t.Errorf("explainMissingRoot() = \n%s\nwant it not to contain %q", got, w)
				}
			}
		})
	}
}

func TestUnboundNICs(t *testing.T) {
	got := unboundNICs(Controllers(sysfsFixture(t, true)))
	want := []string{"no driver matched the network controller pci 0000:00:03.0 (Ethernet controller, modalias pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unboundNICs() mismatch (-want +got):\n%s", diff)
	}
}

func TestColdplugArgs(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    []string
	}{
		{"root=/dev/vda", []string{"-timeout", "30s"}},
		{"kmodboot.verbose kmodboot.cpu_features=after-devices", []string{"-timeout", "30s", "-v", "-cpu-features", "after-devices"}},
		{"kmodboot.cpu_features=bogus", []string{"-timeout", "30s"}}, // refused by bootparam.Parse
	} {
		p, _ := bootparam.Parse(tc.cmdline)
		if got := coldplugArgs(p, p.ColdplugTimeout); !cmp.Equal(got, tc.want) {
			t.Errorf("%q: coldplug %q, want %q", tc.cmdline, got, tc.want)
		}
	}
	if got, want := coldplugArgs(nil, 5*time.Second), []string{"-timeout", "5s"}; !cmp.Equal(got, want) {
		t.Errorf("no parameters: coldplug %q, want %q", got, want)
	}
}
