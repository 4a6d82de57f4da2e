package vmtest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugelgupf/vmtest/qemu"
)

// QEMUCommand is the emulator and its fixed arguments: TCG only (KVM hangs on our machines),
// 1 GiB, the pc machine (its PIIX IDE is the "ide" disk model), no default devices. -cpu max
// gives the guest RDRAND: without it the kernel's CRNG is not ready under TCG for minutes and
// getrandom(2), which the DHCP client needs for its transaction ID, blocks.
const QEMUCommand = "qemu-system-x86_64 -accel tcg -cpu max -m 1G -machine pc -nodefaults -serial mon:stdio -no-reboot"

// NICModels are the network cards of the matrix, as QEMU -device names.
var NICModels = []string{"virtio-net-pci", "e1000", "e1000e", "rtl8139", "vmxnet3"}

// DiskModels are the disk attachments of the matrix (see Disk.Model).
var DiskModels = []string{"virtio-blk", "virtio-scsi", "nvme", "ahci", "ide"}

// Disk is one disk of a Machine.
type Disk struct {
	// Model is how the disk is attached: virtio-blk, virtio-scsi (scsi-hd behind
	// virtio-scsi-pci), nvme, ahci (ide-hd behind ich9-ahci) or ide (ide-hd on the pc
	// machine's PIIX controller; one per machine).
	Model string
	// Image is a raw disk image; it is opened with snapshot=on, so it is never written.
	Image string
}

// Machine is a QEMU machine to boot.
type Machine struct {
	Kernel    Kernel
	Initramfs string
	// Append is added to the kernel command line after "console=ttyS0".
	Append []string
	// NICs are QEMU NIC device models; NIC i is on its own restrict=on user network
	// 10.0.(2+i).0/24.
	NICs  []string
	Disks []Disk
	// Timeout bounds the QEMU process (default 4 minutes).
	Timeout time.Duration
}

// NICAddress is the address QEMU's DHCP server gives NIC i.
func NICAddress(i int) string { return fmt.Sprintf("10.0.%d.15", 2+i) }

// Args returns the QEMU device arguments of m.
func (m Machine) Args() ([]string, error) {
	var a []string
	for i, model := range m.NICs {
		a = append(a,
			"-netdev", fmt.Sprintf("user,id=n%d,restrict=on,net=10.0.%d.0/24", i, 2+i),
			"-device", fmt.Sprintf("%s,netdev=n%d,romfile=", model, i))
	}
	ide := false
	for i, d := range m.Disks {
		// QEMU option values escape ',' by doubling it.
		file := strings.ReplaceAll(d.Image, ",", ",,")
		a = append(a, "-drive", fmt.Sprintf("if=none,id=d%d,file=%s,format=raw,snapshot=on", i, file))
		switch d.Model {
		case "virtio-blk":
			a = append(a, "-device", fmt.Sprintf("virtio-blk-pci,drive=d%d", i))
		case "virtio-scsi":
			a = append(a, "-device", fmt.Sprintf("virtio-scsi-pci,id=scsi%d", i),
				"-device", fmt.Sprintf("scsi-hd,drive=d%d,bus=scsi%d.0", i, i))
		case "nvme":
			a = append(a, "-device", fmt.Sprintf("nvme,drive=d%d,serial=kmodboot%d", i, i))
		case "ahci":
			a = append(a, "-device", fmt.Sprintf("ich9-ahci,id=ahci%d", i),
				"-device", fmt.Sprintf("ide-hd,drive=d%d,bus=ahci%d.0", i, i))
		case "ide":
			if ide {
				return nil, fmt.Errorf("machine has two ide disks; the PIIX controller takes one in this harness")
			}
			ide = true
			a = append(a, "-device", fmt.Sprintf("ide-hd,drive=d%d,bus=ide.0", i))
		default:
			return nil, fmt.Errorf("unknown disk model %q (want one of %v)", d.Model, DiskModels)
		}
	}
	return a, nil
}

// kvmRE matches any way of asking QEMU for KVM.
var kvmRE = regexp.MustCompile(`kvm|accel=hvf|-accel\s+(hvf|whpx)`)

// Boot starts m and returns the VM and its console log. The caller waits for markers with
// Log.Wait (or vm.Console) and must call vm.Wait.
func Boot(t testing.TB, name string, m Machine) (*qemu.VM, *Log) {
	t.Helper()
	args, err := m.Args()
	if err != nil {
		t.Fatal(err)
	}
	timeout := m.Timeout
	if timeout == 0 {
		timeout = 4 * time.Minute
	}
	log := &Log{changed: make(chan struct{})}
	vm := qemu.StartT(t, name, qemu.ArchAMD64,
		qemu.WithQEMUCommand(QEMUCommand),
		qemu.WithKernel(m.Kernel.Vmlinuz),
		qemu.WithInitramfs(m.Initramfs),
		qemu.WithAppendKernel(append([]string{"console=ttyS0", "panic=-1"}, m.Append...)...),
		qemu.ArbitraryArgs(args...),
		qemu.WithVMTimeout(timeout),
		qemu.WithSerialOutput(log),
		// Let Log.Wait return as soon as QEMU is gone instead of waiting out its timeout.
		// VMExited fires after the process's output has been copied.
		qemu.WithTask(func(ctx context.Context, n *qemu.Notifications) error {
			select {
			case <-n.VMExited:
			case <-ctx.Done():
			}
			log.Close()
			return nil
		}),
	)
	if cl := strings.Join(vm.Cmdline(), " "); kvmRE.MatchString(cl) {
		vm.Kill()
		vm.Wait()
		t.Fatalf("QEMU command line asks for KVM, which hangs here; unset VMTEST_QEMU_APPEND/VMTEST_KERNEL_APPEND: %s", cl)
	}
	return vm, log
}

// Log collects a VM's console output. It is safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{} // closed and replaced on every write
	closed  bool
}

// Write appends console output.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.closed {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// Close marks the end of output (the VM exited).
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.changed)
	}
	return nil
}

// String returns the output so far with carriage returns removed.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.ReplaceAll(l.buf.String(), "\r", "")
}

// Wait waits until the output contains s, the VM exits or d passes, and reports whether s
// appeared.
func (l *Log) Wait(s string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		l.mu.Lock()
		ok := strings.Contains(strings.ReplaceAll(l.buf.String(), "\r", ""), s)
		ch, closed := l.changed, l.closed
		l.mu.Unlock()
		if ok {
			return true
		}
		if closed {
			return false
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// Lines returns the output lines containing s.
func (l *Log) Lines(s string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}
