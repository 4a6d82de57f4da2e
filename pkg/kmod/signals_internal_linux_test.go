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
	"google.golang.org/protobuf/encoding/protowire"
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
// the call as time in rt_sigprocmask), while one outside a call is a sample as usual. The
// profile's own 100 Hz timer may put a genuine sample or two in restoreSignals, so the test
// counts: 50 signals inside calls must not give anything like 50 samples there.
func TestMeasuredDropsProfileSignal(t *testing.T) {
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		t.Skipf("a CPU profile is running already: %v", err)
	}
	const sends = 50
	runtime.LockOSThread()
	for range sends {
		measured(func() error { profSignalSelf(t); return nil })
	}
	for range sends {
		profSignalSelf(t)
	}
	runtime.UnlockOSThread()
	pprof.StopCPUProfile()
	samples := samplesIn(t, prof.Bytes(), "kmod.profSignalSelf", "kmod.restoreSignals")
	if got := samples["kmod.profSignalSelf"]; got < sends/2 {
		t.Fatalf("%d samples from the %d signals sent outside load calls: the profile cannot show anything", got, sends)
	}
	if got := samples["kmod.restoreSignals"]; got > sends/10 {
		t.Errorf("%d samples in restoreSignals: the SIGPROFs sent inside %d load calls were delivered at the unblocking", got, sends)
	}
}

// samplesIn counts the samples of a CPU profile (gzipped pprof protobuf) whose stacks hold a
// function whose name ends in one of suffixes, by suffix.
func samplesIn(t *testing.T, gz []byte, suffixes ...string) map[string]int64 {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// fields calls f for each field of message b; the profile comes from the runtime, so a
	// malformed one fails the test.
	fields := func(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, body []byte)) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatalf("profile: bad tag: %v", protowire.ParseError(n))
			}
			b = b[n:]
			var v uint64
			var body []byte
			switch typ {
			case protowire.VarintType:
				v, n = protowire.ConsumeVarint(b)
			case protowire.BytesType:
				body, n = protowire.ConsumeBytes(b)
			default:
				n = protowire.ConsumeFieldValue(num, typ, b)
			}
			if n < 0 {
				t.Fatalf("profile: field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
			f(num, typ, v, body)
		}
	}
	// ints returns a repeated integer field's values, packed or not.
	ints := func(typ protowire.Type, v uint64, body []byte) []uint64 {
		if typ == protowire.VarintType {
			return []uint64{v}
		}
		var out []uint64
		for len(body) > 0 {
			x, n := protowire.ConsumeVarint(body)
			if n < 0 {
				t.Fatalf("profile: packed varint: %v", protowire.ParseError(n))
			}
			out, body = append(out, x), body[n:]
		}
		return out
	}
	var strs []string
	type sample struct{ locs, values []uint64 }
	var samples []sample
	locFuncs := map[uint64][]uint64{} // location id -> function ids
	funcName := map[uint64]uint64{}   // function id -> string index
	fields(b, func(num protowire.Number, typ protowire.Type, v uint64, body []byte) {
		switch num {
		case 2: // Sample: location_id = 1, value = 2
			var s sample
			fields(body, func(num protowire.Number, typ protowire.Type, v uint64, body []byte) {
				switch num {
				case 1:
					s.locs = append(s.locs, ints(typ, v, body)...)
				case 2:
					s.values = append(s.values, ints(typ, v, body)...)
				}
			})
			samples = append(samples, s)
		case 4: // Location: id = 1, line = 4 (Line: function_id = 1)
			var id uint64
			var fns []uint64
			fields(body, func(num protowire.Number, typ protowire.Type, v uint64, body []byte) {
				switch num {
				case 1:
					id = v
				case 4:
					fields(body, func(num protowire.Number, typ protowire.Type, v uint64, _ []byte) {
						if num == 1 {
							fns = append(fns, v)
						}
					})
				}
			})
			locFuncs[id] = fns
		case 5: // Function: id = 1, name = 2
			var id, name uint64
			fields(body, func(num protowire.Number, typ protowire.Type, v uint64, _ []byte) {
				switch num {
				case 1:
					id = v
				case 2:
					name = v
				}
			})
			funcName[id] = name
		case 6: // string_table
			strs = append(strs, string(body))
		}
	})
	out := map[string]int64{}
	for _, s := range samples {
		if len(s.values) == 0 {
			continue
		}
		for _, suf := range suffixes {
			found := false
			for _, l := range s.locs {
				for _, fn := range locFuncs[l] {
					if i := funcName[fn]; i < uint64(len(strs)) && strings.HasSuffix(strs[i], suf) {
						found = true
					}
				}
			}
			if found {
				out[suf] += int64(s.values[0])
			}
		}
	}
	return out
}
