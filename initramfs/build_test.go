package initramfs

import (
	"path"
	"testing"

	"github.com/kmodboot/kmodboot/internal/kmodref"
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

// TestDefaultRequestedExist: every alias of DefaultRequested names a module, or something
// built in, on both Debian kernels; an alias that matched nothing would be a silent no-op.
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
			for _, want := range DefaultRequested {
				var by []string
				for _, a := range append(mods, builtin...) {
					if a.Pattern == want {
						by = append(by, a.Module)
					}
				}
				if len(by) == 0 {
					t.Errorf("DefaultRequested alias %q: no module or built-in has it in Linux %s", want, tree.Release)
				}
			}
		})
	}
}
