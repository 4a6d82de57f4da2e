package blockid

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture %s (regenerate with testdata/gen.sh): %v", name, err)
	}
	return b
}

// The expected values are what `blkid -p` reports on the full images testdata/gen.sh made.
func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		file string
		want *Info
	}{
		{"ext4.img", &Info{Type: "ext4", UUID: "6a1f0c52-3d6e-4b8a-9c71-2f5e8d0b4a13", Label: "kmodboot-root"}},
		{"ext3.img", &Info{Type: "ext3", UUID: "11111111-2222-3333-4444-555555555555", Label: "data3"}},
		{"ext2-nolabel.img", &Info{Type: "ext2", UUID: "0a0b0c0d-0e0f-1011-1213-141516171819"}},
		{"xfs.img", &Info{Type: "xfs", UUID: "9e0d2c1b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", Label: "xroot"}},
		{"btrfs.img", &Info{Type: "btrfs", UUID: "2c3d4e5f-6071-4283-94a5-b6c7d8e9f0a1", Label: "broot"}},
		{"vfat32.img", &Info{Type: "vfat", UUID: "1234-ABCD", Label: "ESP"}},
		{"vfat16-nolabel.img", &Info{Type: "vfat", UUID: "DEAD-BEEF"}},
		{"squashfs.img", &Info{Type: "squashfs"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Probe(bytes.NewReader(readFixture(t, tc.file)))
			if err != nil {
				t.Fatalf("Probe(%s) error: %v", tc.file, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Probe(%s) mismatch (-want +got):\n%s", tc.file, diff)
			}
		})
	}
}

func TestProbeUnknown(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"zeros", readFixture(t, "zero.img")},
		{"empty", nil},
		{"short", []byte("XFS")},
		// A partitioned disk's MBR ends in 55 AA like a FAT boot sector; it must not pass.
		{"mbr disk", readFixture(t, "mbr-disk.img")},
		{"gpt disk", readFixture(t, "gpt-disk.img")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Probe(bytes.NewReader(tc.data))
			if !errors.Is(err, ErrUnknown) {
				t.Errorf("Probe(%s) = %+v, %v, want ErrUnknown", tc.name, got, err)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("I/O error") }

func TestProbeReadError(t *testing.T) {
	_, err := Probe(failingReader{})
	if err == nil || errors.Is(err, ErrUnknown) {
		t.Fatalf("Probe(failing reader) = %v, want the read error", err)
	}
}

func TestPartitions(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []Partition
	}{
		{"gpt-disk.img", []Partition{
			{Number: 1, UUID: "0fc63daf-8483-4772-8e79-3d69d8477de4", Label: "EFI system"},
			{Number: 2, UUID: "5c1e8d2a-7b3f-4a6e-9d0c-1f2e3a4b5c6d", Label: "kmodboot root"},
		}},
		{"mbr-disk.img", []Partition{
			{Number: 1, UUID: "5eedcafe-01"},
			{Number: 2, UUID: "5eedcafe-02"},
		}},
		{"ext4.img", nil},
		{"zero.img", nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Partitions(bytes.NewReader(readFixture(t, tc.file)), 512)
			if err != nil {
				t.Fatalf("Partitions(%s) error: %v", tc.file, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Partitions(%s) mismatch (-want +got):\n%s", tc.file, diff)
			}
		})
	}
}

func TestPartitionsCorruptGPT(t *testing.T) {
	disk := readFixture(t, "gpt-disk.img")
	for _, tc := range []struct {
		name  string
		patch func(b []byte)
	}{
		{"no header", func(b []byte) { copy(b[512:], "NOT PART") }},
		{"huge entry count", func(b []byte) { b[512+80], b[512+81], b[512+82] = 0xff, 0xff, 0xff }},
		{"tiny entry size", func(b []byte) { b[512+84], b[512+85] = 1, 0 }},
		{"table past end", func(b []byte) { b[512+72], b[512+73] = 0, 0x10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(disk)
			tc.patch(b)
			got, err := Partitions(bytes.NewReader(b), 512)
			if err == nil {
				t.Errorf("Partitions(%s) = %v, nil, want an error", tc.name, got)
			}
		})
	}
}

func FuzzProbe(f *testing.F) {
	for _, name := range []string{"ext4.img", "xfs.img", "vfat32.img", "gpt-disk.img", "mbr-disk.img"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Probe(bytes.NewReader(b))
		_, _ = Partitions(bytes.NewReader(b), 512)
	})
}
