package kmod

import (
	"sync"
	"time"
)

// DefaultLivePoll is how often the loader reads the initstate of each module whose load call is
// still running, unless Options.LivePoll says otherwise.
//
// A module is usable as soon as its init has returned and the kernel has marked it live, but
// finit_module returns only later: after marking the module live, the kernel waits for every
// asynchronous probe of every module in the system to finish (async_synchronize_full in
// do_init_module), such as ATA port probes and SCSI scans that another driver started. While
// other drivers probe, a library like libata can sit in that wait for a second after its own
// init took 50 ms. The loader therefore watches for "live": dependents start, and the load
// slot is given back, at that moment rather than when the call returns.
const DefaultLivePoll = 10 * time.Millisecond

// liveWatch is one load call in progress whose module the loader watches for turning live.
type liveWatch struct {
	name string
	// onLive is called once, by whoever first learns that the module is live (the uevent
	// reader through NoteLive, or the poller), unless the call has returned first. It must not
	// block.
	onLive func(at time.Time)

	mu     sync.Mutex
	at     time.Time // when it was seen live; zero until then
	closed bool      // the call has returned: onLive is no longer called
}

func (w *liveWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !w.at.IsZero() {
		return
	}
	w.at = time.Now()
	w.onLive(w.at)
}

// liveAt returns when the module was seen live, or the zero time if it has not been (yet).
func (w *liveWatch) liveAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at
}

// liveWatcher learns when modules whose load calls are running turn live: from NoteLive (a
// caller that receives the kernel's "add" uevent for the module, which the kernel sends right
// after marking it live) and from polling <root>/sys/module/NAME/initstate.
type liveWatcher struct {
	root     string
	interval time.Duration // <= 0: no polling

	// mu guards watches and polling.
	mu      sync.Mutex
	watches map[string]*liveWatch
	polling bool
}

// watch registers a load call of module name, before the call is made. onLive is called
// (from another goroutine) if the module turns live before unwatch.
func (lw *liveWatcher) watch(name string, onLive func(at time.Time)) *liveWatch {
	w := &liveWatch{name: name, onLive: onLive}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.watches == nil {
		lw.watches = map[string]*liveWatch{}
	}
	lw.watches[name] = w
	if lw.interval > 0 && !lw.polling {
		lw.polling = true
		go lw.poll()
	}
	return w
}

// unwatch removes w once its call has returned. After it, w's onLive is not running and will
// not be called.
func (lw *liveWatcher) unwatch(w *liveWatch) {
	lw.mu.Lock()
	if lw.watches[w.name] == w {
		delete(lw.watches, w.name)
	}
	lw.mu.Unlock()
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// note takes the word that module name is live.
func (lw *liveWatcher) note(name string) {
	lw.mu.Lock()
	w := lw.watches[name]
	lw.mu.Unlock()
	if w != nil {
		w.fire()
	}
}

// poll reads the initstate of every watched module each interval, until no call is watched.
func (lw *liveWatcher) poll() {
	t := time.NewTicker(lw.interval)
	defer t.Stop()
	var ws []*liveWatch
	for range t.C {
		ws = ws[:0]
		lw.mu.Lock()
		if len(lw.watches) == 0 {
			lw.polling = false
			lw.mu.Unlock()
			return
		}
		for _, w := range lw.watches {
			ws = append(ws, w)
		}
		lw.mu.Unlock()
		for _, w := range ws {
			if w.liveAt().IsZero() {
				if st, err := ReadInitState(lw.root, w.name); err == nil && st == Live {
					w.fire()
				}
			}
		}
	}
}

// NoteLive tells the loader that the kernel has marked module name live: its init has
// returned successfully. A caller that receives uevents passes on the kernel's "add" event for
// /module/NAME, which comes at that moment, so that the loader need not wait for its next poll
// (Options.LivePoll). Names of modules the loader is not loading are ignored.
func (l *Loader) NoteLive(name string) { l.live.note(name) }
