package initramfs

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kmodboot/kmodboot/internal/kmodref"
	"github.com/kmodboot/kmodboot/pkg/kmod"
)

func TestMatchAny(t *testing.T) {
	for _, tc := range []struct {
		p    string
		want bool
	}{
		{"kernel/drivers/md/dm-mod.ko", true},
		{"kernel/drivers/md/persistent-data/dm-persistent-data.ko", true},
		{"kernel/drivers/scsi/lpfc/lpfc.ko", true},
		{"kernel/drivers/scsi/libiscsi.ko", true},
		{"kernel/drivers/scsi/libiscsi_tcp.ko.xz", true},
		{"kernel/drivers/net/ethernet/3com/3c589_cs.ko", true},
		{"kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko", true},
		{"kernel/drivers/nvme/host/nvme-tcp.ko", true},
		{"kernel/drivers/scsi/st.ko", true},
		// Kept: what the VM matrix and ordinary machines boot from.
		{"kernel/drivers/nvme/host/nvme.ko", false},
		{"kernel/drivers/nvme/host/nvme-core.ko", false},
		{"kernel/drivers/scsi/sd_mod.ko", false},
		{"kernel/drivers/scsi/sr_mod.ko", false},
		{"kernel/drivers/scsi/virtio_scsi.ko", false},
		{"kernel/drivers/scsi/stex.ko", false},
		{"kernel/drivers/ata/ahci.ko", false},
		{"kernel/drivers/block/virtio_blk.ko.xz", false},
		{"kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko", false},
		{"kernel/drivers/net/ethernet/realtek/8139cp.ko", false},
		{"kernel/drivers/net/vmxnet3/vmxnet3.ko", false},
		{"kernel/drivers/net/usb/r8152.ko", true},
		{"kernel/drivers/scsi/aic7xxx/aic79xx.ko", true},
		{"kernel/drivers/message/fusion/mptspi.ko", false},
		{"kernel/drivers/scsi/vmw_pvscsi.ko", false},
		{"kernel/drivers/net/ethernet/intel/iavf/iavf.ko", false},
	} {
		if got := matchAny(DefaultDrop, tc.p); got != tc.want {
			t.Errorf("matchAny(DefaultDrop, %q) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestDefaultDropPatterns(t *testing.T) {
	for _, g := range DefaultDrop {
		if _, err := path.Match(g, ""); err != nil {
			t.Errorf("DefaultDrop pattern %q: %v", g, err)
		}
	}
}

// TestDefaultRequestedExist: on both Debian kernels, every DefaultRequested alias names a
// module or something built in (an alias that matched nothing would be a silent no-op), and
// where the requesting module is loadable its own pre softdeps (depmod's modules.softdep) are
// all in Pre, since the image's modprobe.d line replaces them.
func TestDefaultRequestedExist(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Debian kernels; runs without -short (make test)")
	}
	for _, series := range []string{"6.1", "6.12"} {
		t.Run(series, func(t *testing.T) {
			tree, err := kmodref.DepmodTree(series)
			if err != nil {
				t.Fatalf("prepare Linux %s: %v", series, err)
			}
			mods, err := kmodref.ReadModulesAlias(tree.ModDir)
			if err != nil {
				t.Fatal(err)
			}
			builtin, err := kmodref.ReadBuiltinAliases(tree.ModDir)
			if err != nil {
				t.Fatal(err)
			}
			softdep, err := os.ReadFile(filepath.Join(tree.ModDir, "modules.softdep"))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range DefaultRequested {
				found := false
				for _, a := range append(mods, builtin...) {
					found = found || a.Pattern == r.Alias
				}
				if !found {
					t.Errorf("DefaultRequested alias %q: no module or built-in has it in Linux %s", r.Alias, tree.Release)
				}
				for _, line := range strings.Split(string(softdep), "\n") {
					f := strings.Fields(line)
					if len(f) < 3 || f[0] != "softdep" || f[1] != r.By {
						continue
					}
					for i, w := range f[2:] {
						if w == "pre:" {
							for _, dep := range f[3+i:] {
								if strings.HasSuffix(dep, ":") {
									break
								}
								if !slices.Contains(r.Pre, dep) {
									t.Errorf("%s's own pre softdep %s (modules.softdep of %s) is not in its Pre %v: the image's modprobe.d line would drop it", r.By, dep, tree.Release, r.Pre)
								}
							}
						}
					}
				}
			}
		})
	}
}

func TestRequestedConf(t *testing.T) {
	got := requestedConf([]Requested{{By: "crc64_rocksoft", Alias: "crypto-crc64-rocksoft", Pre: []string{"crc64"}}, {By: "m", Alias: "a"}})
	for _, want := range []string{"\nsoftdep crc64_rocksoft pre: crc64 crypto-crc64-rocksoft\n", "\nsoftdep m pre: a\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("requestedConf(...) = %q, want a line %q", got, strings.TrimSpace(want))
		}
	}
	// The loader reads it from the image's lib/modprobe.d as written.
	root := t.TempDir()
	conf := filepath.Join(root, "lib", "modprobe.d", "kmodboot.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(got), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := kmod.LoadConfig(root)
	if err != nil {
		t.Fatalf("kmod.LoadConfig: %v", err)
	}
	pre, _, ok := cfg.Softdeps("crc64_rocksoft")
	if want := []string{"crc64", "crypto-crc64-rocksoft"}; !ok || !slices.Equal(pre, want) {
		t.Errorf("Softdeps(crc64_rocksoft) = %v, %v; want %v", pre, ok, want)
	}
}
