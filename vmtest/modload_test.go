package vmtest

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// modloadModules are the modules vmtest/modloadcheck uses, besides their dependencies and
// softdeps: the virtio disk and NIC chains, ext4, small library modules for the compressed and
// error checks, and the NIC+storage set of the load benchmark.
var modloadModules = []string{
	"virtio_pci", "virtio_blk", "virtio_net", "ext4",
	"crc7", "bch", "crc8", "ts_kmp", "crc_itu_t",
	"e1000", "e1000e", "virtio_scsi", "sd_mod", "nvme", "ahci", "ata_piix",
}

// modloadChecks is how many checks modloadcheck runs by default on each series.
var modloadChecks = map[string]int{"6.1": 7, "6.12": 4}

const modloadcheckPkg = "github.com/kmodboot/kmodboot/vmtest/modloadcheck"

func modloadImage(t *testing.T, k Kernel) string {
	return Image(t, ImageOptions{Kernel: k, Classes: []string{}, Modules: modloadModules,
		ExtraCommands: []string{modloadcheckPkg}})
}

// TestModload boots each kernel with modloadcheck as the initramfs init (rdinit=), so nothing
// is loaded before it runs, and requires every check to pass: the kernel's request_module
// reaching /sbin/modprobe for an ext4 mount, the crc32c softdep, the virtio_net dependency
// chain, -r leaving shared dependencies, compressed modules (userspace decompression on 6.1,
// in-kernel on 6.12), and a batch with a corrupt and a missing module.
func TestModload(t *testing.T) {
	skipShort(t)
	for _, series := range []string{"6.1", "6.12"} {
		t.Run(series, func(t *testing.T) {
			t.Parallel()
			k := FetchKernel(t, series)
			img := modloadImage(t, k)
			vm, log := Boot(t, "modload-"+series, Machine{
				Kernel: k, Initramfs: img,
				Append: []string{"rdinit=/bbin/modloadcheck"},
				NICs:   []string{"virtio-net-pci"},
				Disks:  []Disk{{Model: "virtio-blk", Image: DataDisk(t, "kmb-modload")}},
			})
			ok := log.Wait("KMODBOOT-CHECKS-DONE", 4*time.Minute)
			if err := vm.Wait(); err != nil {
				t.Errorf("VM exit: %v", err)
			}
			for _, l := range log.Lines("KMODBOOT-CHECK ") {
				t.Log(l)
			}
			if !ok {
				t.Fatalf("no KMODBOOT-CHECKS-DONE line: modloadcheck did not finish")
			}
			for _, l := range log.Lines("KMODBOOT-CHECK FAIL") {
				t.Errorf("%s", l)
			}
			want := "KMODBOOT-CHECKS-DONE pass=" + strconv.Itoa(modloadChecks[series]) + " fail=0"
			if !strings.Contains(log.String(), want) {
				t.Errorf("console has %q, want %q", log.Lines("KMODBOOT-CHECKS-DONE"), want)
			}
		})
	}
}

// TestModloadBench loads the NIC+storage set inside a 2-CPU guest with modload -j 1 and with
// the default parallelism, unloading in between, and logs the medians and the speed-up. It
// runs only when KMODBOOT_VMBENCH names the number of rounds (make bench sets it).
func TestModloadBench(t *testing.T) {
	skipShort(t)
	rounds := os.Getenv("KMODBOOT_VMBENCH")
	if rounds == "" {
		t.Skip("set KMODBOOT_VMBENCH=ROUNDS to run the in-VM load benchmark")
	}
	t.Setenv("VMTEST_QEMU_APPEND", "-smp 2")
	k := FetchKernel(t, "6.1")
	img := modloadImage(t, k)
	vm, log := Boot(t, "modload-bench", Machine{
		Kernel: k, Initramfs: img,
		Append: []string{"rdinit=/bbin/modloadcheck", "--", "-checks=dep-chain", "-bench=" + rounds},
		NICs:   []string{"virtio-net-pci", "e1000", "e1000e"},
		Disks: []Disk{
			{Model: "virtio-blk", Image: DataDisk(t, "kmb-bench-1")},
			{Model: "virtio-scsi", Image: DataDisk(t, "kmb-bench-2")},
			{Model: "nvme", Image: DataDisk(t, "kmb-bench-3")},
			{Model: "ahci", Image: DataDisk(t, "kmb-bench-4")},
			{Model: "ide", Image: DataDisk(t, "kmb-bench-5")},
		},
		Timeout: 15 * time.Minute,
	})
	ok := log.Wait("KMODBOOT-CHECKS-DONE", 15*time.Minute)
	if err := vm.Wait(); err != nil {
		t.Errorf("VM exit: %v", err)
	}
	for _, l := range log.Lines("KMODBOOT-") {
		t.Log(l)
	}
	if !ok || len(log.Lines("KMODBOOT-BENCH set=")) == 0 {
		t.Fatalf("the benchmark did not finish")
	}
}
