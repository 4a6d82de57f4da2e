package kmod

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
)

func sigBlk(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigBlk:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no SigBlk in /proc/thread-self/status")
	return ""
}

// TestMeasuredRestoresSignalMask: after a load call, returned or panicked, the thread's signal
// mask is what it was, so the thread goes back to the Go scheduler able to take preemption and
// profiling signals.
func TestMeasuredRestoresSignalMask(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := sigBlk(t)
	var during string
	if _, err := measured(func() error { during = sigBlk(t); return errors.New("refused") }); err == nil {
		t.Fatal("measured lost the call's error")
	}
	if during == before {
		t.Errorf("SigBlk in the call = %s, the same as outside it", during)
	}
	if after := sigBlk(t); after != before {
		t.Errorf("SigBlk after the call = %s, want %s as before it", after, before)
	}
	func() {
		defer func() { recover() }()
		measured(func() error { panic("in the call") })
	}()
	if after := sigBlk(t); after != before {
		t.Errorf("SigBlk after a call that panicked = %s, want %s as before it", after, before)
	}
}
