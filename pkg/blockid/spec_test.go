package blockid

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
	}{
		{"/dev/vda1", Spec{Kind: KindPath, Value: "/dev/vda1"}},
		{"/dev//nvme0n1p2", Spec{Kind: KindPath, Value: "/dev/nvme0n1p2"}},
		{"LABEL=kmodboot-root", Spec{Kind: KindLabel, Value: "kmodboot-root"}},
		{`LABEL=my\x20disk`, Spec{Kind: KindLabel, Value: "my disk"}},
		{"LABEL=my disk", Spec{Kind: KindLabel, Value: "my disk"}},
		{`LABEL=a\xZZ`, Spec{Kind: KindLabel, Value: `a\xZZ`}},
		{"LABEL=a=b", Spec{Kind: KindLabel, Value: "a=b"}},
		{"UUID=6A1F0C52-3D6E-4B8A-9C71-2F5E8D0B4A13", Spec{Kind: KindUUID, Value: "6a1f0c52-3d6e-4b8a-9c71-2f5e8d0b4a13"}},
		{"PARTUUID=5eedcafe-02", Spec{Kind: KindPartUUID, Value: "5eedcafe-02"}},
		{"PARTUUID=5C1E8D2A-7B3F-4A6E-9D0C-1F2E3A4B5C6D/PARTNROFF=1",
			Spec{Kind: KindPartUUID, Value: "5c1e8d2a-7b3f-4a6e-9d0c-1f2e3a4b5c6d", PartOffset: 1}},
		{"PARTLABEL=kmodboot root", Spec{Kind: KindPartLabel, Value: "kmodboot root"}},
		{"8:1", Spec{Kind: KindDevNum, Major: 8, Minor: 1}},
		{"801", Spec{Kind: KindDevNum, Major: 8, Minor: 1}},
		{"fe01", Spec{Kind: KindDevNum, Major: 254, Minor: 1}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSpec(tc.in)
			if err != nil {
				t.Fatalf("ParseSpec(%q) error: %v", tc.in, err)
			}
			tc.want.Text = tc.in
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSpec(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, in := range []string{
		"", "LABEL=", "UUID=", "PARTUUID=", "PARTUUID=/PARTNROFF=1", "PARTUUID=abc/foo=1",
		"PARTUUID=abc/PARTNROFF=x", "label=root", "FOO=bar", "/", "/dev", "/dev/", "sda1",
		"8:x", "x:1", "zzzz",
	} {
		t.Run(in, func(t *testing.T) {
			if got, err := ParseSpec(in); err == nil {
				t.Errorf("ParseSpec(%q) = %+v, nil, want an error", in, got)
			}
		})
	}
}

func TestFind(t *testing.T) {
	devs := []Device{
		{Name: "vda", Path: "/dev/vda", Major: 254, Minor: 0},
		{Name: "vda1", Path: "/dev/vda1", Major: 254, Minor: 1, Partition: true, PartNumber: 1, Parent: "vda",
			PartUUID: "0fc63daf-8483-4772-8e79-3d69d8477de4", PartLabel: "EFI system",
			FS: &Info{Type: "vfat", UUID: "1234-ABCD", Label: "ESP"}},
		{Name: "vda2", Path: "/dev/vda2", Major: 254, Minor: 2, Partition: true, PartNumber: 2, Parent: "vda",
			PartUUID: "5c1e8d2a-7b3f-4a6e-9d0c-1f2e3a4b5c6d", PartLabel: "kmodboot root",
			FS: &Info{Type: "ext4", UUID: "6a1f0c52-3d6e-4b8a-9c71-2f5e8d0b4a13", Label: "kmodboot-root"}},
		{Name: "sda", Path: "/dev/sda", Major: 8, Minor: 0, FS: &Info{Type: "ext4", Label: "data"}},
		{Name: "sdb", Path: "/dev/sdb", Major: 8, Minor: 16, FS: &Info{Type: "ext4", Label: "data"}},
		{Name: "nolabel", Path: "/dev/nolabel", FS: &Info{Type: "ext4"}},
	}
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{"LABEL=kmodboot-root", []string{"vda2"}},
		{"LABEL=data", []string{"sda", "sdb"}},
		{"LABEL=absent", nil},
		{"UUID=6A1F0C52-3D6E-4B8A-9C71-2F5E8D0B4A13", []string{"vda2"}},
		{"UUID=1234-abcd", []string{"vda1"}},
		{"PARTUUID=0fc63daf-8483-4772-8e79-3d69d8477de4", []string{"vda1"}},
		{"PARTUUID=0fc63daf-8483-4772-8e79-3d69d8477de4/PARTNROFF=1", []string{"vda2"}},
		{"PARTUUID=0fc63daf-8483-4772-8e79-3d69d8477de4/PARTNROFF=5", nil},
		{"PARTLABEL=kmodboot root", []string{"vda2"}},
		{"/dev/sdb", []string{"sdb"}},
		{"8:16", []string{"sdb"}},
		{"fe01", []string{"vda1"}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := ParseSpec(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range Find(devs, s) {
				got = append(got, d.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Find(%q) mismatch (-want +got):\n%s", tc.spec, diff)
			}
		})
	}
}
