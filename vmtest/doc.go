// Package vmtest boots kmodboot's initramfs on real Debian kernels in QEMU and checks what
// happened from the serial console. Its helpers are shared by every VM test in the tree; the
// boot matrix of issue 5 lives in this package's tests.
//
// # Pieces
//
//   - FetchKernel runs scripts/fetch-kernel.sh and describes the kernel it unpacked.
//   - Image builds an initramfs with package initramfs, cached under build/vmtest/ by a
//     fingerprint of the sources and the options, so a re-run does not rebuild it.
//   - RootDisk and DataDisk make small ext4 images (mkfs.ext4 -d) labelled per boot; a root
//     disk's /sbin/init is vmtest/rootinit, which prints "KMODBOOT-ROOT-OK <id>" and powers off.
//   - Machine describes the QEMU machine (NIC and disk models) and Boot starts it with
//     hugelgupf/vmtest, capturing the console into a Log.
//
// # QEMU
//
// Only TCG is used (-accel tcg -m 1G): Boot refuses a command line that mentions KVM, which
// hangs on our machines. Each NIC gets its own user-mode network with restrict=on, so DHCP is
// answered inside QEMU and nothing leaves the host; NIC i is on 10.0.(2+i).0/24 and receives
// 10.0.(2+i).15. Option ROMs are skipped (romfile=) and disks use snapshot=on, so one image
// can back several boots.
//
// # Running
//
// The tests run by default; `go test -short` skips the boots. `make test` runs them with
// -parallel $(VMTEST_PARALLEL) (each boot is one single-threaded TCG process).
package vmtest
