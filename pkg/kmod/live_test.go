package kmod_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kmodboot/kmodboot/pkg/kmod"
	"github.com/kmodboot/kmodboot/pkg/kmod/kmodtest"
)

// settle is how long the fake kernel's calls go on after their module is live, as Linux's do
// while other drivers' asynchronous probes run. It is long against the poll interval and the
// init Delay, so that "started before the call returned" cannot happen by chance.
const settle = 400 * time.Millisecond

// liveTree is a library and a driver that needs it.
var liveTree = []kmodtest.Module{
	{Name: "lib"},
	{Name: "drv", Depends: []string{"lib"}},
	{Name: "other"},
}

// calls returns the fake kernel's calls by module.
func calls(k *kmodtest.Kernel) map[string]kmodtest.Call {
	out := map[string]kmodtest.Call{}
	for _, c := range k.Calls() {
		out[c.Module] = c
	}
	return out
}

// TestDependentsStartWhenLive checks that a module's dependents are loaded as soon as it is
// live, not when its call returns, whether the loader learns it by polling initstate or from
// NoteLive; and that without either they wait for the call.
func TestDependentsStartWhenLive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		poll     time.Duration
		noteLive bool
		early    bool // drv must start before lib's call returns
	}{
		{"poll", 5 * time.Millisecond, false, true},
		{"default poll", 0, false, true},
		{"NoteLive", -1, true, true},
		{"neither", -1, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, liveTree, "", "", kmod.Options{LivePoll: tc.poll})
			e.kernel.Delay, e.kernel.Settle = 5*time.Millisecond, settle
			if tc.noteLive {
				e.kernel.OnLive = e.loader.NoteLive
			}
			rs, err := e.loader.Load(context.Background(), "drv", "")
			if err != nil {
				t.Fatal(err)
			}
			if got := states(rs); got["lib"] != "loaded" || got["drv"] != "loaded" {
				t.Fatalf("Load(drv) states = %v, want lib and drv loaded", got)
			}
			c := calls(e.kernel)
			lib, drv := c["lib"], c["drv"]
			if started := drv.Start.Before(lib.End); started != tc.early {
				t.Errorf("drv's call started %v after lib's returned (lib live %v after its start), want before: %v",
					drv.Start.Sub(lib.End), lib.Live.Sub(lib.Start), tc.early)
			}
			if drv.Start.Before(lib.Live) {
				t.Errorf("drv's call started %v before lib was live", lib.Live.Sub(drv.Start))
			}
			var libRes kmod.Result
			for _, r := range rs {
				if r.Module == "lib" {
					libRes = r
				}
			}
			if seen := !libRes.Live.IsZero(); seen != tc.early {
				t.Errorf("lib's Result.Live = %v, want set: %v", libRes.Live, tc.early)
			}
			if tc.early && (libRes.Live.Before(lib.Live) || !libRes.Live.Before(libRes.End)) {
				t.Errorf("lib's Result.Live = %v, want between the kernel's live %v and the call's end %v", libRes.Live, lib.Live, libRes.End)
			}
		})
	}
}

// TestLiveFreesLoadSlot checks that a call whose module is live no longer holds one of the
// Parallel slots.
func TestLiveFreesLoadSlot(t *testing.T) {
	e := setup(t, liveTree, "", "", kmod.Options{Parallel: 1, LivePoll: 5 * time.Millisecond})
	e.kernel.Delay, e.kernel.Settle = 5*time.Millisecond, settle
	start := time.Now()
	if _, err := e.loader.LoadAll(context.Background(), []kmod.Request{{Name: "lib"}, {Name: "other"}}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*settle-settle/4 {
		t.Errorf("two modules with Parallel=1 took %v: the second waited for the first's call (%v) to return", took, settle)
	}
	if got := e.kernel.MaxConcurrent(); got != 1 {
		t.Errorf("%d inits ran at once with Parallel=1, want 1", got)
	}
}

// TestLiveCoalesced checks that a request waiting on another request's load of a dependency
// goes on once that dependency is live.
func TestLiveCoalesced(t *testing.T) {
	e := setup(t, liveTree, "", "", kmod.Options{LivePoll: -1})
	e.kernel.Delay, e.kernel.Settle = 50*time.Millisecond, settle
	e.kernel.OnLive = e.loader.NoteLive
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := e.loader.Load(context.Background(), "lib", ""); err != nil {
			t.Errorf("Load(lib) = %v", err)
		}
	}()
	time.Sleep(10 * time.Millisecond) // lib's call is running
	rs, err := e.loader.Load(context.Background(), "drv", "")
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := states(rs); got["lib"] != "loaded" || got["drv"] != "loaded" {
		t.Errorf("Load(drv) states = %v, want lib loaded (by the other request) and drv loaded", got)
	}
	c := calls(e.kernel)
	if len(e.kernel.Calls()) != 2 {
		t.Errorf("%d calls, want 2 (lib once, drv)", len(e.kernel.Calls()))
	}
	if !c["drv"].Start.Before(c["lib"].End) {
		t.Errorf("drv's call started %v after lib's returned, want before (lib was live %v earlier)",
			c["drv"].Start.Sub(c["lib"].End), c["lib"].End.Sub(c["lib"].Live))
	}
}

// TestLiveTrace checks the PhaseLive event between a module's start and done.
func TestLiveTrace(t *testing.T) {
	var mu sync.Mutex
	var phases []kmod.Phase
	e := setup(t, liveTree, "", "", kmod.Options{LivePoll: -1, Trace: func(ev kmod.Event) {
		if ev.Result.Module != "lib" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		phases = append(phases, ev.Phase)
		if ev.Phase == kmod.PhaseLive && (ev.Result.Live.IsZero() || ev.Result.Call != "finit_module") {
			t.Errorf("PhaseLive result: Live %v, Call %q; want both set", ev.Result.Live, ev.Result.Call)
		}
	}})
	e.kernel.Settle = 50 * time.Millisecond
	e.kernel.OnLive = e.loader.NoteLive
	if _, err := e.loader.Load(context.Background(), "lib", ""); err != nil {
		t.Fatal(err)
	}
	want := []kmod.Phase{kmod.PhaseStart, kmod.PhaseLive, kmod.PhaseDone}
	if len(phases) != len(want) || phases[0] != want[0] || phases[1] != want[1] || phases[2] != want[2] {
		t.Errorf("trace phases for lib = %v, want %v", phases, want)
	}
}
