package kmod

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// BlockedSignals returns the calling thread's blocked-signal mask (SigBlk in
// /proc/thread-self/status). It is exported for the tests of package kmod_test.
func BlockedSignals(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigBlk:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("SigBlk %q: %v", v, err)
			}
			return m
		}
	}
	t.Fatal("no SigBlk in /proc/thread-self/status")
	return 0
}

// TestMeasuredRestoresSignalMask: after a load call, returned or panicked, the thread's signal
// mask is what it was, so the thread goes back to the Go scheduler able to take preemption and
// profiling signals.
func TestMeasuredRestoresSignalMask(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := BlockedSignals(t)
	var during uint64
	if _, err := measured(func() error { during = BlockedSignals(t); return errors.New("refused") }); err == nil {
		t.Fatal("measured lost the call's error")
	}
	if during == before {
		t.Errorf("SigBlk in the call = %016x, the same as outside it", during)
	}
	if after := BlockedSignals(t); after != before {
		t.Errorf("SigBlk after the call = %016x, want %016x as before it", after, before)
	}
	func() {
		defer func() { recover() }()
		measured(func() error { panic("in the call") })
	}()
	if after := BlockedSignals(t); after != before {
		t.Errorf("SigBlk after a call that panicked = %016x, want %016x as before it", after, before)
	}
}

// profSignalSelf sends SIGPROF to the calling thread, as its CPU timer does while a profile
// runs.
func profSignalSelf(t *testing.T) {
	if err := unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGPROF); err != nil {
		t.Fatal(err)
	}
}

// TestMeasuredDropsProfileSignal: a SIGPROF that comes during a load call does not become a
// profile sample at the unblocking of signals after it (which would show the kernel's time in
// the call as time in rt_sigprocmask), while one outside a call is a sample as usual.
func TestMeasuredDropsProfileSignal(t *testing.T) {
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		t.Skipf("a CPU profile is running already: %v", err)
	}
	runtime.LockOSThread()
	for range 50 {
		measured(func() error { profSignalSelf(t); return nil })
	}
	for range 50 {
		profSignalSelf(t)
	}
	runtime.UnlockOSThread()
	pprof.StopCPUProfile()
	zr, err := gzip.NewReader(&prof)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// The profile's string table names the functions of its samples' stacks.
	if !bytes.Contains(b, []byte("kmod.profSignalSelf")) {
		t.Fatal("the profile has no sample from the signals sent outside load calls: it cannot show anything")
	}
	if bytes.Contains(b, []byte("kmod.restoreSignals")) {
		t.Error("the profile has samples in restoreSignals: SIGPROFs from inside load calls were delivered at the unblocking")
	}
}
