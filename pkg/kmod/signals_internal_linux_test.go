package kmod

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
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
