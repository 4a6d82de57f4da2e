package modinfo

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// diffInfo compares two Infos, treating nil and empty slices alike and ignoring Size.
func diffInfo(want, got *Info) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(Info{}, "Size"))
}

const vermagic61 = "6.1.0-56-amd64 SMP preempt mod_unload modversions "

// TestReadFileFixtures reads real Debian 6.1 modules (testdata/*.ko) and checks what
// `modinfo` from kmod prints for them.
func TestReadFileFixtures(t *testing.T) {
	for _, tc := range []struct {
		file string
		want *Info
	}{
		{"emu10k1-gp.ko", &Info{
			Name: "emu10k1_gp", Depends: []string{"gameport"},
			Aliases: []string{
				"pci:v00001102d00007005sv*sd*bc*sc*i*", "pci:v00001102d00007004sv*sd*bc*sc*i*",
				"pci:v00001102d00007003sv*sd*bc*sc*i*", "pci:v00001102d00007002sv*sd*bc*sc*i*",
			},
			Vermagic: vermagic61, License: "GPL", Description: "EMU10k1 gameport driver",
			Intree: true, Retpoline: true,
		}},
		{"libcrc32c.ko", &Info{
			Name: "libcrc32c", SoftdepPre: []string{"crc32c"}, Vermagic: vermagic61, License: "GPL",
			Description: "CRC32c (Castagnoli) calculations", Intree: true, Retpoline: true,
		}},
		{"crc-t10dif.ko", &Info{
			Name: "crc_t10dif", Depends: []string{"crct10dif_common"}, SoftdepPre: []string{"crct10dif"},
			Vermagic: vermagic61, License: "GPL", Description: "T10 DIF CRC calculation (library API)",
			Intree: true, Retpoline: true,
		}},
		{"cxl_mem.ko", &Info{
			Name: "cxl_mem", Aliases: []string{"cxl:t5*"}, SoftdepPre: []string{"cxl_port"},
			Vermagic: vermagic61, License: "GPL v2", Intree: true, Retpoline: true,
		}},
		{"isight_firmware.ko", &Info{
			Name: "isight_firmware", Depends: []string{"usbcore"},
			Aliases: []string{"usb:v05ACp8300d*dc*dsc*dp*ic*isc*ip*in*"}, Firmware: []string{"isight.fw"},
			Vermagic: vermagic61, License: "GPL", Intree: true, Retpoline: true,
		}},
		{"snd-mpu401.ko", &Info{
			Name: "snd_mpu401", Depends: []string{"snd", "snd_mpu401_uart"},
			Aliases: []string{"acpi*:PNPB006:*", "pnp:dPNPb006*"},
			// Section order, which is the reverse of the source's module_param order.
			Params:   []string{"uart_enter", "irq", "port", "pnp", "enable", "id", "index"},
			Vermagic: vermagic61, License: "GPL", Description: "MPU-401 UART",
			Intree: true, Retpoline: true,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			got, err := ReadFile(path)
			if err != nil {
				t.Fatalf("ReadFile(%q): %v", path, err)
			}
			// Descriptions are checked only where listed; some fixtures have none.
			if diff := diffInfo(tc.want, got); diff != "" {
				t.Errorf("ReadFile(%q) mismatch (-want +got):\n%s", path, diff)
			}
			st, _ := os.Stat(path)
			if got.Size != st.Size() {
				t.Errorf("ReadFile(%q).Size = %d, want %d", path, got.Size, st.Size())
			}
		})
	}
}

// TestAgainstKmodModinfo compares every fixture with `modinfo -F` from kmod, the reference
// implementation, when it is installed.
func TestAgainstKmodModinfo(t *testing.T) {
	bin, err := exec.LookPath("modinfo")
	if err != nil {
		if bin, err = exec.LookPath("/sbin/modinfo"); err != nil {
			t.Skip("kmod's modinfo is not installed")
		}
	}
	field := func(t *testing.T, path, name string) []string {
		out, err := exec.Command(bin, "-0", "-F", name, path).Output()
		if err != nil {
			// Debian's kmod 30 is built without zlib, so it cannot read .ko.gz.
			t.Skipf("%s -F %s %s: %v (kmod built without this compression?)", bin, name, path, err)
		}
		var vals []string
		for _, v := range strings.Split(string(out), "\x00") {
			if v != "" {
				vals = append(vals, v)
			}
		}
		return vals
	}
	files, _ := filepath.Glob("testdata/*.ko*")
	files = append(files, "testdata/6.12/libcrc32c.ko.xz")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			got, err := ReadFile(path)
			if err != nil {
				t.Fatalf("ReadFile(%q): %v", path, err)
			}
			if diff := cmp.Diff(field(t, path, "alias"), got.Aliases, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("aliases of %s differ from modinfo's (-modinfo +ours):\n%s", path, diff)
			}
			if diff := cmp.Diff(field(t, path, "firmware"), got.Firmware, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("firmware of %s differs from modinfo's (-modinfo +ours):\n%s", path, diff)
			}
			var deps []string
			for _, d := range field(t, path, "depends") {
				for _, n := range strings.Split(d, ",") {
					deps = append(deps, NormalizeName(n))
				}
			}
			if diff := cmp.Diff(deps, got.Depends, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("depends of %s differ from modinfo's (-modinfo +ours):\n%s", path, diff)
			}
			if v := field(t, path, "vermagic"); len(v) != 1 || v[0] != got.Vermagic {
				t.Errorf("vermagic of %s = %q, modinfo says %q", path, got.Vermagic, v)
			}
		})
	}
}

// TestCompressedVariants checks that .ko.xz (xz --check=crc32), .ko.zst and .ko.gz made from a
// fixture read and decompress to the same module.
func TestCompressedVariants(t *testing.T) {
	for _, base := range []string{"emu10k1-gp.ko", "libcrc32c.ko"} {
		plainPath := filepath.Join("testdata", base)
		plain, err := os.ReadFile(plainPath)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ReadFile(plainPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{"", ".xz", ".zst", ".gz"} {
			path := plainPath + ext
			t.Run(base+ext, func(t *testing.T) {
				got, err := ReadFile(path)
				if err != nil {
					t.Fatalf("ReadFile(%q): %v", path, err)
				}
				if diff := diffInfo(want, got); diff != "" {
					t.Errorf("ReadFile(%q) differs from the plain module (-plain +got):\n%s", path, diff)
				}
				data, err := Decompress(path)
				if err != nil {
					t.Fatalf("Decompress(%q): %v", path, err)
				}
				if !bytes.Equal(data, plain) {
					t.Errorf("Decompress(%q) = %d bytes, not the %d bytes of %s", path, len(data), len(plain), plainPath)
				}
			})
		}
	}
}

// TestDebianXZ reads a module compressed by Debian's own 6.12 build.
func TestDebianXZ(t *testing.T) {
	path := filepath.Join("testdata", "6.12", "libcrc32c.ko.xz")
	got, err := ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile(%q): %v", path, err)
	}
	if got.Name != "libcrc32c" || !strings.HasPrefix(got.Vermagic, "6.12.") || len(got.SoftdepPre) != 1 {
		t.Errorf("ReadFile(%q) = name %q vermagic %q softdep pre %q, want libcrc32c, 6.12.*, [crc32c]",
			path, got.Name, got.Vermagic, got.SoftdepPre)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	xzData, err := os.ReadFile(filepath.Join("testdata", "emu10k1-gp.ko.xz"))
	if err != nil {
		t.Fatal(err)
	}
	zstData, err := os.ReadFile(filepath.Join("testdata", "emu10k1-gp.ko.zst"))
	if err != nil {
		t.Fatal(err)
	}
	gzData, err := os.ReadFile(filepath.Join("testdata", "emu10k1-gp.ko.gz"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := func(b []byte) []byte {
		b = bytes.Clone(b)
		for i := len(b) / 3; i < len(b)/3+16; i++ {
			b[i] ^= 0x55
		}
		return b
	}
	plain, err := os.ReadFile(filepath.Join("testdata", "emu10k1-gp.ko"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"corrupt.ko.xz", corrupt(xzData), ErrDecompress},
		{"truncated.ko.xz", xzData[:len(xzData)/2], ErrDecompress},
		{"garbage.ko.xz", []byte("not xz at all"), ErrDecompress},
		{"corrupt.ko.zst", corrupt(zstData), ErrDecompress},
		{"corrupt.ko.gz", corrupt(gzData), ErrDecompress},
		{"truncated.ko.gz", gzData[:len(gzData)-6], ErrDecompress},
		{"garbage.ko", []byte("garbage garbage garbage"), ErrNotELF},
		{"empty.ko", nil, ErrNotELF},
		{"truncated.ko", plain[:len(plain)/2], ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadFile(path)
			if !errors.Is(err, tc.want) {
				t.Errorf("ReadFile(%q) error = %v, want %v", path, err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("ReadFile(%q) error %q does not name the file", path, err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(dir, "missing.ko")
		if _, err := ReadFile(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ReadFile(%q) error = %v, want os.ErrNotExist", path, err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		path := filepath.Join(dir, "dir.ko")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(path); err == nil {
			t.Errorf("ReadFile(%q) of a directory succeeded", path)
		}
	})
	t.Run("decompress garbage", func(t *testing.T) {
		path := filepath.Join(dir, "garbage.ko.zst")
		if err := os.WriteFile(path, []byte("\x28\xb5\x2f\xfd garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Decompress(path); !errors.Is(err, ErrDecompress) || !strings.Contains(err.Error(), path) {
			t.Errorf("Decompress(%q) error = %v, want ErrDecompress naming the file", path, err)
		}
	})
	t.Run("decompress misnamed", func(t *testing.T) {
		path := filepath.Join(dir, "really-xz.ko")
		if err := os.WriteFile(path, xzData, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Decompress(path)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("Decompress(%q) = %d bytes, %v; want the %d-byte module", path, len(got), err, len(plain))
		}
	})
}

func TestParseSoftdep(t *testing.T) {
	for _, tc := range []struct {
		in        string
		pre, post []string
	}{
		{"pre: crc32c", []string{"crc32c"}, nil},
		{"pre: a b post: c", []string{"a", "b"}, []string{"c"}},
		{"post: c pre: a", []string{"a"}, []string{"c"}},
		{"  pre:\ta   b\n", []string{"a", "b"}, nil},
		{"gcm", nil, nil},
		{"x pre: a pre: b post: c post: d", []string{"a", "b"}, []string{"c", "d"}},
		{"pre:a", nil, nil},
		{"", nil, nil},
	} {
		t.Run(tc.in, func(t *testing.T) {
			pre, post := ParseSoftdep(tc.in)
			if !cmp.Equal(pre, tc.pre, cmpopts.EquateEmpty()) || !cmp.Equal(post, tc.post, cmpopts.EquateEmpty()) {
				t.Errorf("ParseSoftdep(%q) = %q, %q, want %q, %q", tc.in, pre, post, tc.pre, tc.post)
			}
		})
	}
}

func TestParseSectionRepeatedSoftdep(t *testing.T) {
	got := ParseSection([]byte("softdep=pre: a\x00softdep=pre: b post: c\x00softdep=gcm\x00"))
	if !cmp.Equal(got.SoftdepPre, []string{"a", "b"}) || !cmp.Equal(got.SoftdepPost, []string{"c"}) {
		t.Errorf("ParseSection softdeps = pre %q post %q, want pre [a b] post [c]", got.SoftdepPre, got.SoftdepPost)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		path, name, kind string
		isModule         bool
	}{
		{"kernel/drivers/input/gameport/emu10k1-gp.ko", "emu10k1_gp", "", true},
		{"a/virtio_net.ko.xz", "virtio_net", "xz", true},
		{"a/crc32c-intel.ko.zst", "crc32c_intel", "zstd", true},
		{"/x/y/z.ko.gz", "z", "gzip", true},
		{"modules.order", "modules.order", "", false},
		{"foo.ko.bz2", "foo.ko.bz2", "", false},
		{".ko", ".ko", "", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := ModuleName(tc.path); got != tc.name {
				t.Errorf("ModuleName(%q) = %q, want %q", tc.path, got, tc.name)
			}
			if got := Compression(tc.path); got != tc.kind {
				t.Errorf("Compression(%q) = %q, want %q", tc.path, got, tc.kind)
			}
			if got := IsModuleFile(tc.path); got != tc.isModule {
				t.Errorf("IsModuleFile(%q) = %v, want %v", tc.path, got, tc.isModule)
			}
		})
	}
}

func TestParseBuiltin(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "modules.builtin.modinfo"))
	if err != nil {
		t.Fatal(err)
	}
	mods, err := ParseBuiltin(data)
	if err != nil {
		t.Fatalf("ParseBuiltin: %v", err)
	}
	var names []string
	for n := range mods {
		names = append(names, n)
	}
	wantNames := []string{"debugfs", "md5", "sha256_generic", "workqueue", "zbud"}
	if diff := cmp.Diff(wantNames, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("ParseBuiltin names (-want +got):\n%s", diff)
	}
	sha := mods["sha256_generic"]
	wantAliases := []string{
		"crypto-sha256-generic", "sha256-generic", "crypto-sha256", "sha256",
		"crypto-sha224-generic", "sha224-generic", "crypto-sha224", "sha224",
	}
	if sha == nil || !cmp.Equal(sha.Aliases, wantAliases) || sha.Name != "sha256_generic" {
		t.Errorf("ParseBuiltin()[sha256_generic] = %+v, want aliases %q", sha, wantAliases)
	}
	if w := mods["workqueue"]; w == nil || len(w.Params) == 0 || len(w.Aliases) != 0 {
		t.Errorf("ParseBuiltin()[workqueue] = %+v, want params and no aliases", w)
	}
	if d := mods["debugfs"]; d == nil || !cmp.Equal(d.Aliases, []string{"fs-debugfs"}) {
		t.Errorf("ParseBuiltin()[debugfs] = %+v, want alias fs-debugfs", d)
	}
}

func TestParseBuiltinEdges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    map[string][]string // module -> aliases
		wantErr bool
	}{
		{"empty", "", map[string][]string{}, false},
		{"normalize", "foo-bar.alias=a-b\x00foo_bar.alias=c\x00", map[string][]string{"foo_bar": {"a-b", "c"}}, false},
		{"padding", "\x00\x00m.alias=x\x00\x00", map[string][]string{"m": {"x"}}, false},
		{"no trailing nul", "m.alias=x", map[string][]string{"m": {"x"}}, false},
		{"dot in value", "m.alias=a.b=c\x00", map[string][]string{"m": {"a.b=c"}}, false},
		{"no equals", "m.alias\x00", nil, true},
		{"no module", ".alias=x\x00", nil, true},
		{"no dot", "alias=x\x00", nil, true},
		{"no key", "m.=x\x00", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mods, err := ParseBuiltin([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseBuiltin(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if tc.wantErr {
				if !errors.Is(err, ErrBadBuiltin) {
					t.Errorf("ParseBuiltin(%q) error = %v, want ErrBadBuiltin", tc.in, err)
				}
				return
			}
			got := map[string][]string{}
			for n, m := range mods {
				got[n] = m.Aliases
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ParseBuiltin(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
