package blockid

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sysfsBlock builds a class/block tree shaped like the kernel's: class/block/NAME is a symlink
// into devices/.../block/DISK[/PART], with dev, size, uevent and (for partitions) partition.
type fakeDev struct {
	name, parent, dev, devname string
	part                       int
	sectors                    int
	image                      string // fixture copied to the device node, "" for none
}

func buildTree(t *testing.T, devs []fakeDev) (sysRoot, devRoot string) {
	t.Helper()
	root := t.TempDir()
	sysRoot, devRoot = filepath.Join(root, "sys"), filepath.Join(root, "dev")
	class := filepath.Join(sysRoot, "class", "block")
	for _, d := range []string{class, devRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range devs {
		rel := filepath.Join("devices", "pci0000:00", "0000:00:04.0", "virtio1", "block")
		if d.parent != "" {
			rel = filepath.Join(rel, d.parent, d.name)
		} else {
			rel = filepath.Join(rel, d.name)
		}
		dir := filepath.Join(sysRoot, rel)
		write(filepath.Join(dir, "dev"), d.dev+"\n")
		write(filepath.Join(dir, "size"), strconv.Itoa(d.sectors)+"\n")
		devname := d.devname
		if devname == "" {
			devname = d.name
		}
		write(filepath.Join(dir, "uevent"), "MAJOR=254\nMINOR=0\nDEVNAME="+devname+"\nDEVTYPE=disk\n")
		if d.part != 0 {
			write(filepath.Join(dir, "partition"), strconv.Itoa(d.part)+"\n")
		} else {
			write(filepath.Join(dir, "queue", "logical_block_size"), "512\n")
		}
		if err := os.Symlink(filepath.Join("..", "..", rel), filepath.Join(class, d.name)); err != nil {
			t.Fatal(err)
		}
		if d.image != "" {
			write(filepath.Join(devRoot, devname), string(readFixture(t, d.image)))
		}
	}
	return sysRoot, devRoot
}

func TestScan(t *testing.T) {
	sysRoot, devRoot := buildTree(t, []fakeDev{
		{name: "vda", dev: "254:0", sectors: 32768, image: "gpt-disk.img"},
		{name: "vda1", parent: "vda", dev: "254:1", part: 1, sectors: 4096, image: "vfat32.img"},
		{name: "vda2", parent: "vda", dev: "254:2", part: 2, sectors: 8192, image: "ext4.img"},
		{name: "vdb", dev: "254:16", sectors: 16384, image: "xfs.img"},
		{name: "vdc", dev: "254:32", sectors: 16384}, // node missing: unreadable, still listed
		{name: "ram0", dev: "1:0", sectors: 8192},    // skipped by DefaultSkipProbe
		{name: "sr0", dev: "11:0", sectors: 0},
	})
	s := &Scanner{SysRoot: sysRoot, DevRoot: devRoot}
	devs, err := s.Scan()
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want := []Device{
		{Name: "ram0", Path: devRoot + "/ram0", Major: 1, Size: 8192 * 512},
		{Name: "sr0", Path: devRoot + "/sr0", Major: 11},
		{Name: "vda", Path: devRoot + "/vda", Major: 254, Size: 32768 * 512},
		{Name: "vda1", Path: devRoot + "/vda1", Major: 254, Minor: 1, Size: 4096 * 512, Partition: true,
			PartNumber: 1, Parent: "vda", PartUUID: "0fc63daf-8483-4772-8e79-3d69d8477de4",
			PartLabel: "EFI system", FS: &Info{Type: "vfat", UUID: "1234-ABCD", Label: "ESP"}},
		{Name: "vda2", Path: devRoot + "/vda2", Major: 254, Minor: 2, Size: 8192 * 512, Partition: true,
			PartNumber: 2, Parent: "vda", PartUUID: "5c1e8d2a-7b3f-4a6e-9d0c-1f2e3a4b5c6d",
			PartLabel: "kmodboot root",
			FS:        &Info{Type: "ext4", UUID: "6a1f0c52-3d6e-4b8a-9c71-2f5e8d0b4a13", Label: "kmodboot-root"}},
		{Name: "vdb", Path: devRoot + "/vdb", Major: 254, Minor: 16, Size: 16384 * 512,
			FS: &Info{Type: "xfs", UUID: "9e0d2c1b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", Label: "xroot"}},
		{Name: "vdc", Path: devRoot + "/vdc", Major: 254, Minor: 32, Size: 16384 * 512},
	}
	opts := []cmp.Option{cmpopts.IgnoreFields(Device{}, "ProbeErr")}
	if diff := cmp.Diff(want, devs, opts...); diff != "" {
		t.Errorf("Scan() mismatch (-want +got):\n%s", diff)
	}
	for _, d := range devs {
		switch d.Name {
		case "vda":
			// A partitioned disk carries no filesystem: ErrUnknown, not an I/O error.
			if d.ProbeErr == nil {
				t.Errorf("Scan: vda ProbeErr = nil, want ErrUnknown")
			}
		case "vdc":
			if d.ProbeErr == nil || !strings.Contains(d.String(), "unreadable") {
				t.Errorf("Scan: vdc = %q (ProbeErr %v), want it marked unreadable", d.String(), d.ProbeErr)
			}
		}
	}
	spec, _ := ParseSpec("LABEL=kmodboot-root")
	if got := Find(devs, spec); len(got) != 1 || got[0].Name != "vda2" {
		t.Errorf("Find(LABEL=kmodboot-root) over Scan() = %v, want vda2", got)
	}
}

func TestScanNoSysfs(t *testing.T) {
	s := &Scanner{SysRoot: filepath.Join(t.TempDir(), "absent"), DevRoot: t.TempDir()}
	if devs, err := s.Scan(); err == nil {
		t.Errorf("Scan() without class/block = %v, nil, want an error", devs)
	}
}

func TestDeviceString(t *testing.T) {
	d := Device{Path: "/dev/vda2", FS: &Info{Type: "ext4", Label: "root", UUID: "u"}, PartUUID: "p"}
	want := `/dev/vda2 ext4 LABEL="root" UUID=u PARTUUID=p`
	if got := d.String(); got != want {
		t.Errorf("Device.String() = %q, want %q", got, want)
	}
}
