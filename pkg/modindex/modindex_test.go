package modindex

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/pkg/metabuild"
	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/spec"
)

// testIndex builds a small but realistic index: the virtio_net chain, ext4 with its softdep,
// rtl8139's two drivers, and two built-in modules, one with an alias.
func testIndex(t testing.TB, edit func(*spec.Index)) []byte {
	t.Helper()
	mods := []*spec.Module{
		{Name: "8139cp", Path: "kernel/drivers/net/ethernet/realtek/8139cp.ko", Depends: []uint32{6}},
		{Name: "8139too", Path: "kernel/drivers/net/ethernet/realtek/8139too.ko", Depends: []uint32{6}},
		{Name: "crc32c_generic", Path: "kernel/crypto/crc32c_generic.ko"},
		{Name: "ext4", Path: "kernel/fs/ext4/ext4.ko", Depends: []uint32{5}, SoftdepPre: []string{"crc32c"}},
		{Name: "failover", Path: "kernel/net/core/failover.ko"},
		{Name: "mbcache", Path: "kernel/fs/mbcache.ko"},
		{Name: "mii", Path: "kernel/drivers/net/mii.ko"},
		{Name: "net_failover", Path: "kernel/drivers/net/net_failover.ko", Depends: []uint32{4}},
		{Name: "unix", Builtin: true},
		{Name: "virtio_net", Path: "kernel/drivers/net/virtio_net.ko", Depends: []uint32{7}},
		{Name: "virtio_pci", Builtin: true},
	}
	entries := []modalias.Entry{
		{Pattern: "pci:v000010ECd00008139sv*sd*bc*sc*i*", Module: 0},
		{Pattern: "pci:v000010ECd00008139sv*sd*bc*sc*i*", Module: 1},
		{Pattern: "crypto-crc32c", Module: 2},
		{Pattern: "crc32c", Module: 2},
		{Pattern: "fs-ext4", Module: 3},
		{Pattern: "fs-ext3", Module: 3},
		{Pattern: "virtio:d00000001v*", Module: 9},
		{Pattern: "net-pf-1", Module: 8, Builtin: true},
		{Pattern: "crypto-crc32c", Module: 8, Builtin: true},
	}
	mt, err := metabuild.BuildMatchTable(entries)
	if err != nil {
		t.Fatalf("metabuild.BuildMatchTable: %v", err)
	}
	ix := &spec.Index{FormatVersion: spec.FormatVersion, KernelRelease: "6.1.0-99-amd64", Modules: mods, Match: mt}
	if edit != nil {
		edit(ix)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ix)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

func names(ms []Match) []string {
	var out []string
	for _, m := range ms {
		s := m.Name
		if m.Builtin {
			s += "(builtin)"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestResolve(t *testing.T) {
	ix, err := Decode(testIndex(t, nil), "test.pb")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"virtio_net", []string{"virtio_net"}},
		{"virtio-net", []string{"virtio_net"}},
		{"pci:v000010ECd00008139sv000010ECsd00008139bc02sc00i00", []string{"8139cp", "8139too"}},
		{"virtio:d00000001v00001AF4", []string{"virtio_net"}},
		{"fs-ext4", []string{"ext4"}},
		// A loadable module's alias wins over a built-in's, as in libkmod.
		{"crypto-crc32c", []string{"crc32c_generic"}},
		{"net-pf-1", []string{"unix(builtin)"}},
		{"virtio_pci", []string{"virtio_pci(builtin)"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ix.Resolve(tc.in)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, names(got)); diff != "" {
				t.Errorf("Resolve(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
	_, err = ix.Resolve("pci:v0000FFFFd0000FFFF")
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("Resolve(unknown) = %v, want *NotFoundError", err)
	}
	for _, bad := range []string{"pci:]", "pci:[abc"} {
		if _, err := ix.Resolve(bad); err == nil {
			t.Errorf("Resolve(%q) = nil error, want an error for the unbalanced bracket", bad)
		}
	}
}

func TestClosure(t *testing.T) {
	ix, err := Decode(testIndex(t, nil), "test.pb")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	vn, _ := ix.ByName("virtio_net")
	ext4, _ := ix.ByName("ext4")
	order, err := ix.Closure([]int{vn, ext4})
	if err != nil {
		t.Fatalf("Closure: %v", err)
	}
	var got []string
	for _, i := range order {
		got = append(got, ix.Name(i))
	}
	want := []string{"failover", "net_failover", "virtio_net", "mbcache", "ext4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Closure mismatch (-want +got):\n%s", diff)
	}

	cyc, err := Decode(testIndex(t, func(x *spec.Index) { x.Modules[4].Depends = []uint32{9} }), "cycle.pb")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if _, err := cyc.Closure([]int{vn}); !errors.Is(err, ErrCycle) {
		t.Errorf("Closure on a cycle = %v, want ErrCycle", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := testIndex(t, nil)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a meta.pb"},
		{"garbage", []byte("\xff\xff\xff\xff\xff"), "corrupt"},
		{"truncated", good[:len(good)/2], "corrupt"},
		{"version", testIndex(t, func(x *spec.Index) { x.FormatVersion = 99 }), "format version 99"},
		{"absolute path", testIndex(t, func(x *spec.Index) { x.Modules[0].Path = "/etc/shadow" }), "absolute"},
		{"dotdot path", testIndex(t, func(x *spec.Index) { x.Modules[0].Path = "kernel/../../../etc/x.ko" }), "not a clean path"},
		{"dotdot start", testIndex(t, func(x *spec.Index) { x.Modules[0].Path = "../x.ko" }), "not a clean path"},
		{"unsorted", testIndex(t, func(x *spec.Index) { x.Modules[0].Name = "zzz" }), "not sorted"},
		{"nameless", testIndex(t, func(x *spec.Index) { x.Modules[0].Name = "" }), "no name"},
		{"bad match table", testIndex(t, func(x *spec.Index) { x.Match.Nodes = []byte{1, 2, 3} }), "match table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix, err := Decode(tc.data, "bad.pb")
			if err == nil {
				err = ix.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.pb") {
				t.Errorf("Decode(%s) = %v, want an error naming bad.pb and saying %q", tc.name, err, tc.want)
			}
		})
	}
}

// TestModuleRefuses covers what Decode leaves to the first use of a module: its dependency
// indices, and a path hidden behind fields that the writer never puts first.
// TestEvilPathRefusedAtUse shows that the path check also guards the lazy path: a module whose
// path escapes the module root is refused when it is used, even without Validate.
func TestEvilPathRefusedAtUse(t *testing.T) {
	ix, err := Decode(testIndex(t, func(x *spec.Index) { x.Modules[9].Path = "../../../../tmp/evil.ko" }), "bad.pb")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if _, err := ix.Closure([]int{9}); err == nil || !strings.Contains(err.Error(), "not a clean path") {
		t.Errorf("Closure(virtio_net with an escaping path) = %v, want a refusal", err)
	}
	if _, err := ix.Resolve("virtio_net"); err == nil {
		t.Errorf("Resolve(virtio_net with an escaping path) = nil error, want a refusal")
	}
}

func TestModuleRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*spec.Index)
		want string
	}{
		{"dep out of range", func(x *spec.Index) { x.Modules[0].Depends = []uint32{1000} }, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix, err := Decode(testIndex(t, tc.edit), "bad.pb")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if _, err := ix.Closure([]int{0}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Closure over %s = %v, want an error saying %q", tc.name, err, tc.want)
			}
		})
	}
	// A path after a later field: the scan at Decode stops early, Module must still refuse it.
	raw, err := proto.Marshal(&spec.Module{Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	raw = append(protoAppendString(protoAppendString(nil, 1, "aaa"), 8, ""), raw...)
	raw = protoAppendString(raw, 2, "../../etc/evil.ko")
	ix := &Index{source: "bad.pb", data: protowire.AppendBytes(nil, raw), offs: []uint32{0}, decoded: map[int]*Module{}}
	if _, err := ix.Module(0); err == nil || !strings.Contains(err.Error(), "not a clean path") {
		t.Errorf("Module(late evil path) = %v, want a refusal", err)
	}
}

func protoAppendString(b []byte, num protowire.Number, s string) []byte {
	if num == 8 {
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), 1)
	}
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func FuzzDecode(f *testing.F) {
	f.Add(testIndex(f, nil))
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := Decode(data, "fuzz.pb")
		if err != nil {
			return
		}
		ix.Validate()
		for i := 0; i < ix.NumModules(); i++ {
			ix.Module(i)
		}
		ix.Resolve("pci:v000010ECd00008139sv000010ECsd00008139bc02sc00i00")
		ix.Resolve("fs-ext4")
		all := make([]int, ix.NumModules())
		for i := range all {
			all[i] = i
		}
		ix.Closure(all)
	})
}

// TestFieldNumbers keeps the hand-written decoders in step with meta.proto: the package reads
// meta.pb with protowire, by field number, so that it need not import the generated code.
func TestFieldNumbers(t *testing.T) {
	if FormatVersion != spec.FormatVersion {
		t.Errorf("FormatVersion = %d, spec.FormatVersion = %d", FormatVersion, spec.FormatVersion)
	}
	for _, tc := range []struct {
		msg  proto.Message
		want map[string]protowire.Number
	}{
		{&spec.Index{}, map[string]protowire.Number{"format_version": 1, "kernel_release": 2, "vermagic": 3,
			"modules": 4, "match": 5, "subset": 6, "selection": 7}},
		{&spec.Module{}, map[string]protowire.Number{"name": 1, "path": 2, "builtin": 3, "depends": 4,
			"softdep_pre": 5, "softdep_post": 6, "firmware": 7, "size": 8, "builtin_unlisted": 9}},
		{&spec.MatchTable{}, map[string]protowire.Number{"layout": 1, "strings": 2, "nodes": 3, "edges": 4,
			"patterns": 5, "pattern_count": 6, "grams": 7}},
	} {
		fields := tc.msg.ProtoReflect().Descriptor().Fields()
		got := map[string]protowire.Number{}
		for i := 0; i < fields.Len(); i++ {
			got[string(fields.Get(i).Name())] = fields.Get(i).Number()
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s field numbers changed; update the decoders (-want +got):\n%s",
				tc.msg.ProtoReflect().Descriptor().Name(), diff)
		}
	}
}

// TestModuleRoundTrip decodes every field the generated code writes.
func TestModuleRoundTrip(t *testing.T) {
	want := &spec.Module{Name: "ext4", Path: "kernel/fs/ext4/ext4.ko", Builtin: false, Depends: []uint32{1, 300, 2},
		SoftdepPre: []string{"crc32c", "x"}, SoftdepPost: []string{"y"}, Firmware: []string{"a.bin"}, Size: 1 << 40,
		BuiltinUnlisted: true}
	b, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeModule(b)
	if err != nil {
		t.Fatalf("decodeModule: %v", err)
	}
	back := &spec.Module{Name: got.Name, Path: got.Path, Builtin: got.Builtin, Depends: got.Depends,
		SoftdepPre: got.SoftdepPre, SoftdepPost: got.SoftdepPost, Firmware: got.Firmware, Size: got.Size,
		BuiltinUnlisted: got.BuiltinUnlisted}
	if !proto.Equal(want, back) {
		t.Errorf("decodeModule(Marshal(%v)) = %v", want, back)
	}
}
