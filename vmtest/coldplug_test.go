package vmtest

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const coldplugcheckPkg = "github.com/kmodboot/kmodboot/vmtest/coldplugcheck"

// coldplugImage is the default image (NIC, storage and filesystem modules) plus coldplugcheck
// and busybox, whose sh and modprobe run the shell baseline of the benchmark; with kmod, also
// this machine's kmod and the libraries it links, for the baseline with kmod's modprobe.
func coldplugImage(t *testing.T, k Kernel, kmod bool) string {
	files := []string{"/bin/busybox:bin/busybox"}
	if kmod {
		files = append(files, kmodFiles(t)...)
	}
	return Image(t, ImageOptions{Kernel: k, ExtraCommands: []string{coldplugcheckPkg}, ExtraFiles: files})
}

// kmodFiles returns the image files that let kmod run in a guest: the kmod binary as
// bin/kmod, its dynamic loader where its program header names it, and the shared libraries
// ldd lists, under usr/lib/x86_64-linux-gnu (the image's lib holds the modules). The guest
// runs it with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu.
func kmodFiles(t *testing.T) []string {
	t.Helper()
	bin, err := exec.LookPath("kmod")
	if err != nil {
		bin = "/usr/bin/kmod"
	}
	if bin, err = filepath.EvalSymlinks(bin); err != nil {
		t.Fatalf("kmod baseline: no kmod binary on this machine (apt-get install kmod): %v", err)
	}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("kmod baseline: ldd %s: %v", bin, err)
	}
	files := []string{bin + ":bin/kmod"}
	// The image takes a symbolic link as it is, so each source is resolved first (the loader
	// /lib64/ld-linux-x86-64.so.2 is a link on Debian), and kept under the name ldd gives.
	add := func(src, dst string) {
		real, err := filepath.EvalSymlinks(src)
		if err != nil {
			t.Fatalf("kmod baseline: %s, which kmod needs: %v", src, err)
		}
		files = append(files, real+":"+dst)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			add(f[2], "usr/lib/x86_64-linux-gnu/"+filepath.Base(f[2]))
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"): // the loader: "/lib64/ld-linux-x86-64.so.2 (0x...)"
			add(f[0], strings.TrimPrefix(f[0], "/"))
		}
	}
	if len(files) < 3 {
		t.Fatalf("kmod baseline: ldd %s lists no loader or libraries:\n%s", bin, out)
	}
	return files
}

// coldplugMachine has every NIC model and every disk model at once: five NICs and five disks,
// three of them SCSI disks (virtio-scsi, ahci, PIIX IDE) that need sd_mod once their host
// driver has created them.
func coldplugMachine(t *testing.T, k Kernel, img string, args ...string) Machine {
	var disks []Disk
	for i, model := range DiskModels {
		disks = append(disks, Disk{Model: model, Image: DataDisk(t, fmt.Sprintf("kmb-cp-%d", i))})
	}
	return Machine{
		Kernel: k, Initramfs: img,
		Append:  append([]string{"quiet", "rdinit=/bbin/coldplugcheck", "--"}, args...),
		NICs:    NICModels,
		Disks:   disks,
		Timeout: 6 * time.Minute,
	}
}

// coldplugDisks are the block devices coldplugMachine's disks become.
const coldplugDisks = "vda,nvme0n1,sda,sdb,sdc"

// coldplugExpect lists the drivers coldplug must load on coldplugMachine: every NIC's, every
// disk controller's, sd_mod behind ahci, virtio_scsi and ata_piix, and virtio_net/virtio_blk/
// virtio_scsi behind virtio_pci (a module in 6.1, built into 6.12).
func coldplugExpect(series string) []string {
	set := map[string]bool{"sd_mod": true}
	for _, m := range nicDrivers {
		set[m] = true
	}
	for _, ms := range diskDrivers {
		for _, m := range ms {
			set[m] = true
		}
	}
	if series == "6.1" {
		set["virtio_pci"] = true
	}
	return sortedKeys(set)
}

// virtioRNG is the modalias of QEMU's virtio-rng device, whose driver (virtio_rng) is not in
// the image: coldplug must report it and go on.
const virtioRNG = "virtio:d00000004v00001AF4"

// virtioNetPCI is the virtio-net PCI function's modalias on the pc machine. With virtio_pci
// built into 6.12 nothing in the index matches it, which coldplug must report as normal.
const virtioNetPCI = "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"

// TestColdplug boots each kernel with every NIC and disk model and a device whose driver is not
// in the image, with coldplugcheck as the init, and requires every check to pass (see
// vmtest/coldplugcheck). It saves coldplug's boot trace as build/vmtest/coldplug-trace-SERIES.json
// (open it in https://ui.perfetto.dev or chrome://tracing) and its CPU profile as
// build/vmtest/coldplug-cpu-SERIES.pprof.
func TestColdplug(t *testing.T) {
	skipShort(t)
	// The virtio-rng device goes through VMTEST_QEMU_APPEND (Machine has no field for a
	// device that is neither NIC nor disk), which rules out t.Parallel.
	t.Setenv("VMTEST_QEMU_APPEND", "-device virtio-rng-pci")
	for _, series := range []string{"6.1", "6.12"} {
		t.Run(series, func(t *testing.T) {
			k := FetchKernel(t, series)
			img := coldplugImage(t, k, false)
			unmatched := []string{virtioRNG}
			if series == "6.12" {
				unmatched = append(unmatched, virtioNetPCI)
			}
			vm, log := Boot(t, "coldplug-"+series, coldplugMachine(t, k, img,
				"-mode=check", fmt.Sprintf("-nics=%d", len(NICModels)), "-disks="+coldplugDisks,
				"-expect-modules="+strings.Join(coldplugExpect(series), ","),
				"-expect-unmatched="+strings.Join(unmatched, ",")))
			ok := log.Wait("KMODBOOT-CHECKS-DONE", 6*time.Minute)
			if err := vm.Wait(); err != nil {
				t.Errorf("VM exit: %v", err)
			}
			out := log.String()
			for _, l := range log.Lines("KMODBOOT-CHECK ") {
				t.Log(l)
			}
			for _, l := range log.Lines("KMODBOOT-COLDPLUG-USAGE") {
				t.Log(l)
			}
			for _, l := range log.Lines("coldplug: ") {
				if strings.HasPrefix(l, "coldplug: ") {
					t.Log(l) // the summary line
				}
			}
			if b, ok := between(out, "KMODBOOT-TRACE-BEGIN\n", "\nKMODBOOT-TRACE-END"); ok {
				save(t, "boot trace (open in https://ui.perfetto.dev)", "coldplug-trace-"+series+".json", []byte(b))
			}
			if b, ok := between(out, "KMODBOOT-PROFILE-BEGIN\n", "\nKMODBOOT-PROFILE-END"); ok {
				if prof, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b)); err == nil {
					save(t, "coldplug's CPU profile (go tool pprof -top)", "coldplug-cpu-"+series+".pprof", prof)
				}
			}
			if !ok {
				t.Fatalf("no KMODBOOT-CHECKS-DONE line: coldplugcheck did not finish")
			}
			for _, l := range log.Lines("KMODBOOT-CHECK FAIL") {
				t.Errorf("%s", l)
			}
			if !regexp.MustCompile(`KMODBOOT-CHECKS-DONE pass=\d+ fail=0`).MatchString(out) {
				t.Errorf("console has %q, want fail=0", log.Lines("KMODBOOT-CHECKS-DONE"))
			}
		})
	}
}

// between returns the text of out between the markers begin and end.
func between(out, begin, end string) (string, bool) {
	i := strings.Index(out, begin)
	if i < 0 {
		return "", false
	}
	j := strings.Index(out[i:], end)
	if j < 0 {
		return "", false
	}
	return out[i+len(begin) : i+j], true
}

// save writes an artifact of a boot under build/vmtest.
func save(t *testing.T, what, name string, b []byte) {
	p := filepath.Join(RepoRoot(), "build", "vmtest", name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Errorf("save %s: %v", what, err)
		return
	}
	t.Logf("%s: %s", what, p)
}

// benchResult is one KMODBOOT-COLDPLUG-BENCH line.
type benchResult struct {
	bound, done, user, system, kernelBusy, monitorUser, kernelCPU float64
}

// parseBench reads the first KMODBOOT-COLDPLUG-BENCH result line in out: its key=value fields
// (0 when absent: a shell line has none of coldplug's).
func parseBench(out string) (benchResult, bool) {
	const marker = "KMODBOOT-COLDPLUG-BENCH method="
	i := strings.Index(out, marker)
	if i < 0 {
		return benchResult{}, false
	}
	line, _, _ := strings.Cut(out[i:], "\n")
	fields := map[string]float64{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				fields[k] = f
			}
		}
	}
	if _, ok := fields["bound"]; !ok {
		return benchResult{}, false
	}
	return benchResult{bound: fields["bound"], done: fields["done"], user: fields["user"], system: fields["system"],
		kernelBusy: fields["kernel_busy"], monitorUser: fields["monitor_user"], kernelCPU: fields["kernel_cpu"]}, true
}

// TestParseBench reads a coldplug line as coldplugcheck prints it, and a shell line without
// coldplug's fields.
func TestParseBench(t *testing.T) {
	line := "KMODBOOT-COLDPLUG-BENCH method=coldplug bound=2.210 done=2.343 modules=36 user=0.239 system=2.401 kernel_busy=2.102 kernel_load=21.098 loads=36 user_pct=11.4 monitor_user=0.04 monitor_system=0.12 threads=23 setup_user=0.000 events=187 event_adds=6 kernel_cpu=2.051 user_pct_cpu=11.7 startup=0.066 guest_busy=3.310 guest_idle=0.870\n"
	got, ok := parseBench("console noise\n" + line)
	want := benchResult{bound: 2.210, done: 2.343, user: 0.239, system: 2.401, kernelBusy: 2.102, monitorUser: 0.04, kernelCPU: 2.051}
	if !ok || got != want {
		t.Errorf("parseBench(coldplug line) = %+v, %v; want %+v", got, ok, want)
	}
	got, ok = parseBench("KMODBOOT-COLDPLUG-BENCH method=shell bound=4.542 done=5.224 modules=34 guest_busy=3.860 guest_idle=0.5\n")
	if want := (benchResult{bound: 4.542, done: 5.224}); !ok || got != want {
		t.Errorf("parseBench(shell line) = %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := parseBench("KMODBOOT-COLDPLUG-BENCH FAIL method=shell: no modprobe\n"); ok {
		t.Errorf("parseBench(FAIL line) = ok, want no result")
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// TestColdplugBench boots the machine of TestColdplug (without the virtio-rng device) ROUNDS
// times with each method, alternating, and logs the medians: the time from the start of
// coldplug, or of the shell modprobe loop, until every NIC and disk exists, and until it
// exits; and coldplug's user CPU time against the time the kernel spent in its load calls. It
// runs only when KMODBOOT_VMBENCH names the number of rounds (make bench sets it). The kernel
// series are KMODBOOT_VMBENCH_SERIES (default "6.1 6.12"), the guest CPU counts
// KMODBOOT_VMBENCH_SMP (default "1 2"), KMODBOOT_VMBENCH_COLDPLUG_ARGS adds coldplug flags
// (comma-separated, e.g. "-j=1"), KMODBOOT_VMBENCH_KERNEL_ARGS kernel arguments for both
// methods (space-separated, e.g. "module.async_probe=1"), KMODBOOT_VMBENCH_METHODS the methods,
// KMODBOOT_VMBENCH_CHECK_ARGS coldplugcheck flags (e.g. "-kprofile" with the kernel argument
// profile=2: where the kernel's time went) and KMODBOOT_VMBENCH_QEMU_ARGS more QEMU arguments
// (e.g. "-icount shift=0,sleep=off": guest time counted in instructions; see the README).
func TestColdplugBench(t *testing.T) {
	skipShort(t)
	rounds, _ := strconv.Atoi(os.Getenv("KMODBOOT_VMBENCH"))
	if rounds <= 0 {
		t.Skip("set KMODBOOT_VMBENCH=ROUNDS to run the in-VM coldplug benchmark")
	}
	series := strings.Fields(os.Getenv("KMODBOOT_VMBENCH_SERIES"))
	if len(series) == 0 {
		series = []string{"6.1", "6.12"}
	}
	smps := strings.Fields(os.Getenv("KMODBOOT_VMBENCH_SMP"))
	if len(smps) == 0 {
		smps = []string{"1", "2"}
	}
	// A method is "shell" (the loop with busybox's modprobe), "shell-kmod" (with kmod's) or
	// "coldplug", which may carry more coldplug flags after a colon ("coldplug:-j=4"), so that
	// variants run alternately in one benchmark.
	methods := strings.Fields(os.Getenv("KMODBOOT_VMBENCH_METHODS"))
	if len(methods) == 0 {
		methods = []string{"shell", "shell-kmod", "coldplug"}
	}
	var baselines []string
	for _, m := range methods {
		if strings.HasPrefix(m, "shell") {
			baselines = append(baselines, m)
		}
	}
	extra := os.Getenv("KMODBOOT_VMBENCH_COLDPLUG_ARGS")
	checkArgs := strings.Fields(os.Getenv("KMODBOOT_VMBENCH_CHECK_ARGS"))
	kargs := os.Getenv("KMODBOOT_VMBENCH_KERNEL_ARGS")
	qemuArgs := os.Getenv("KMODBOOT_VMBENCH_QEMU_ARGS")
	for _, s := range series {
		for _, smp := range smps {
			t.Run(s+"/smp="+smp, func(t *testing.T) {
				t.Setenv("VMTEST_QEMU_APPEND", strings.TrimSpace("-smp "+smp+" "+qemuArgs))
				k := FetchKernel(t, s)
				img := coldplugImage(t, k, slices.Contains(methods, "shell-kmod"))
				res := map[string][]benchResult{}
				for r := 0; r < rounds; r++ {
					for _, method := range methods {
						mode, variant, _ := strings.Cut(method, ":")
						cargs := strings.Trim(extra+","+variant, ",")
						m := coldplugMachine(t, k, img, append([]string{
							"-mode=" + mode, fmt.Sprintf("-nics=%d", len(NICModels)), "-disks=" + coldplugDisks,
							"-coldplug-args=" + cargs}, checkArgs...)...)
						m.Append = append(strings.Fields(kargs), m.Append...)
						vm, log := Boot(t, fmt.Sprintf("bench-%s-smp%s-%s-%d", s, smp, strings.NewReplacer(":", "", ",", "", "=", "").Replace(method), r), m)
						log.Wait("KMODBOOT-COLDPLUG-BENCH", 6*time.Minute)
						vm.Wait()
						b, ok := parseBench(log.String())
						if !ok {
							// One lost boot fails the benchmark but keeps the others' medians.
							t.Errorf("KMODBOOT-COLDPLUG-BENCH-FAIL %s round %d: no result; console ends:\n%s", method, r, tail(log.String()))
							continue
						}
						lines := append(log.Lines("KMODBOOT-COLDPLUG-BENCH"), append(log.Lines("KMODBOOT-KPROF"), log.Lines("KMODBOOT-SYSCALLS")...)...)
						if r == 0 {
							lines = append(log.Lines("KMODBOOT-COLDPLUG-MODULES"), lines...)
						}
						for _, l := range lines {
							t.Log(method + ": " + l[strings.Index(l, "KMODBOOT-"):])
						}
						res[method] = append(res[method], b)
					}
				}
				get := func(method string, f func(benchResult) float64) float64 {
					var v []float64
					for _, b := range res[method] {
						v = append(v, f(b))
					}
					return median(v)
				}
				bound := func(b benchResult) float64 { return b.bound }
				done := func(b benchResult) float64 { return b.done }
				for _, method := range methods {
					if strings.HasPrefix(method, "shell") {
						continue
					}
					cb, cd := get(method, bound), get(method, done)
					user := get(method, func(b benchResult) float64 { return b.user })
					kb := get(method, func(b benchResult) float64 { return b.kernelBusy })
					sys := get(method, func(b benchResult) float64 { return b.system })
					mon := get(method, func(b benchResult) float64 { return b.monitorUser })
					kcpu := get(method, func(b benchResult) float64 { return b.kernelCPU })
					ratios := "no shell runs; "
					if len(baselines) > 0 {
						ratios = ""
					}
					for _, base := range baselines {
						sb, sd := get(base, bound), get(base, done)
						ratios += fmt.Sprintf("against %s (bound %.3fs, exit %.3fs): all-bound ratio=%.2f (goal <= 0.5), exit ratio=%.2f; ",
							base, sb, sd, cb/sb, cd/sd)
					}
					t.Logf("KMODBOOT-COLDPLUG-BENCH-RESULT series=%s smp=%s rounds=%d method=%s (medians) all-bound=%.3fs exit=%.3fs; %scoldplug user CPU %.3fs = %.1f%% of the kernel's CPU time in its load calls (%.3fs; goal <= 10%%), %.1f%% of the time load calls were busy (%.3fs) and %.1f%% of its system CPU (%.3fs); of it the Go runtime's monitor thread %.2fs",
						s, smp, rounds, method, cb, cd, ratios, user, 100*user/kcpu, kcpu, 100*user/kb, kb, 100*user/sys, sys, mon)
				}
			})
		}
	}
}
