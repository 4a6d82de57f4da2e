package kmod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kmodboot/kmodboot/internal/sysread"
	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/pkg/modindex"
	"github.com/kmodboot/kmodboot/pkg/modinfo"
)

// Loader loads modules. It is safe for concurrent use; concurrent requests for one module share
// a single load.
type Loader struct {
	opts       Options
	ix         *modindex.Index
	cfg        *Config
	kernel     Kernel
	modDir     string
	sem        chan struct{} // bounds concurrent load system calls
	decompress func(string) ([]byte, error)

	compOnce sync.Once
	comp     string // what <root>/sys/module/compression says the kernel decompresses

	live liveWatcher // learns when modules whose calls are running turn live

	// mu guards flights. Finished loads are not remembered: the kernel's initstate is the
	// truth, and a long-running caller (a hotplug daemon) may see modules unloaded later.
	mu      sync.Mutex
	flights map[int]*flight // loads in progress, by module index
}

// flight is one module load in progress; waiters block on done and then read res. live is
// closed when the module is live, which may be before its call returns (see DefaultLivePoll).
type flight struct {
	done chan struct{}
	live chan struct{}
	res  Result
}

// Request is one modprobe argument: a module name or alias, and parameters for the module(s)
// it names.
type Request struct {
	Name   string
	Params string
}

// New returns a Loader. It refuses an index built for another kernel release than
// Options.Release (default: the running kernel's).
func New(opts Options) (*Loader, error) {
	if opts.Index == nil {
		return nil, errors.New("kmod: Options.Index is nil: open a meta.pb with modindex.Open")
	}
	if opts.Release == "" {
		r, err := modindex.RunningRelease()
		if err != nil {
			return nil, fmt.Errorf("kmod: find the running kernel's release: %w (pass it in Options.Release)", err)
		}
		opts.Release = r
	}
	if got := opts.Index.Release(); got != opts.Release {
		return nil, &ReleaseError{Index: opts.Index.Source(), Built: got, Running: opts.Release}
	}
	l := &Loader{
		opts:       opts,
		ix:         opts.Index,
		cfg:        opts.Config,
		kernel:     opts.Kernel,
		modDir:     opts.ModuleDir,
		decompress: opts.Decompress,
		flights:    map[int]*flight{},
	}
	if l.cfg == nil {
		cfg, err := LoadConfig(opts.Root)
		if err != nil {
			return nil, err
		}
		l.cfg = cfg
	}
	if l.kernel == nil {
		l.kernel = defaultKernel()
	}
	if l.modDir == "" {
		l.modDir = filepath.Join(rootDir(opts.Root), "lib/modules", opts.Release)
	}
	if l.decompress == nil {
		l.decompress = modinfo.Decompress
	}
	n := opts.Parallel
	if n <= 0 {
		n = DefaultParallel()
	}
	l.sem = make(chan struct{}, n)
	l.live = liveWatcher{root: opts.Root, interval: opts.LivePoll}
	if opts.LivePoll == 0 {
		l.live.interval = DefaultLivePoll
	}
	return l, nil
}

// DefaultParallel is how many load system calls run at once unless Options.Parallel says
// otherwise: four per CPU, at least eight. Far more than the CPUs, because most of a load's
// time is not CPU work but waiting: in the driver's probe (device resets, PHY and link
// training, firmware: sleeps), and at the end of every module's init, where the kernel waits
// for all outstanding asynchronous probes (ATA ports, SCSI scans) of every module. Loads
// running side by side share those waits. With one load per CPU, as modprobe loops do and
// an earlier default did, a slow probe holds back every module queued behind it
// (scripts/bench-coldplug.sh, Debian 6.1 in a 2-CPU guest: all NICs and disks bound in
// 2.9 s with two loads at once, 2.4-2.7 s with 8 or 16).
func DefaultParallel() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// Index returns the loader's module index.
func (l *Loader) Index() *modindex.Index { return l.ix }

// Config returns the loader's configuration.
func (l *Loader) Config() *Config { return l.cfg }

// ModuleDir returns the directory module paths are relative to.
func (l *Loader) ModuleDir() string { return l.modDir }

// Load loads the module(s) a name or alias resolves to, with their dependencies and softdeps,
// like `modprobe nameOrAlias params`. params go to the named module(s) after their modprobe.d
// and command line options. The results list every module of the request in load order. The
// error joins the failures of the named modules and their hard dependencies; a softdep's
// failure is only in its Result. A name nothing answers gives a *modindex.NotFoundError.
func (l *Loader) Load(ctx context.Context, nameOrAlias, params string) ([]Result, error) {
	return l.load(ctx, []Request{{nameOrAlias, params}}, l.opts.BlacklistNames)
}

// LoadAlias loads the modules an alias (typically a device's modalias) resolves to, applying
// the blacklist to every one of them, as coldplug needs.
func (l *Loader) LoadAlias(ctx context.Context, alias string) ([]Result, error) {
	return l.load(ctx, []Request{{Name: alias}}, true)
}

// LoadAll loads several requests at once (modprobe -a), in parallel where their dependencies
// allow. A request that fails or is not found does not stop the others.
func (l *Loader) LoadAll(ctx context.Context, reqs []Request) ([]Result, error) {
	return l.load(ctx, reqs, l.opts.BlacklistNames)
}

// target is one module a request resolved to.
type target struct {
	mod      int // -1: not in the index (see err)
	name     string
	alias    string // the request, when the module was found through an alias
	viaAlias bool   // found through an index alias: the blacklist applies
	err      error
}

// resolve answers a request like libkmod's kmod_module_new_from_lookup: modprobe.d aliases
// first, then the index (exact name, module aliases, built-in aliases, built-in names).
func (l *Loader) resolve(name string) ([]target, error) {
	norm, err := modalias.Normalize(name)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", name, err)
	}
	if mods := l.cfg.Alias(norm); len(mods) > 0 {
		var out []target
		seen := map[string]bool{}
		for _, m := range mods {
			if seen[m] {
				continue
			}
			seen[m] = true
			t := target{mod: -1, name: m, alias: name}
			if i, ok := l.ix.ByName(m); ok {
				t.mod = i
			} else {
				t.err = fmt.Errorf("modprobe.d alias %s resolves to module %s: %w", name, m,
					&modindex.NotFoundError{Name: m, Source: l.ix.Source(), Subset: l.ix.Subset()})
			}
			out = append(out, t)
		}
		return out, nil
	}
	matches, err := l.ix.Resolve(name)
	if err != nil {
		var nf *modindex.NotFoundError
		if errors.As(err, &nf) {
			if _, _, ok := l.cfg.Install(norm); ok {
				return []target{{mod: -1, name: modindex.NormalizeName(name)}}, nil
			}
		}
		return nil, err
	}
	var out []target
	seen := map[int]bool{}
	for _, m := range matches {
		if seen[m.Module] {
			continue
		}
		seen[m.Module] = true
		t := target{mod: m.Module, name: m.Name}
		if m.Pattern != "" {
			t.alias, t.viaAlias = name, true
		}
		out = append(out, t)
	}
	return out, nil
}

// node is one module in a request's plan.
type node struct {
	mod      int
	name     string
	path     string // absolute; "" for a built-in module
	builtin  bool
	params   string
	via      string
	softdep  bool
	alias    string
	required bool
	target   bool
	black    string // where it was blacklisted, when the blacklist applies to it
	err      error  // resolution failure
	after    []*node
	hard     []*node // the hard dependencies among after
	placed   bool
	placing  bool
	done     chan struct{} // closed when res is final
	// ready is closed when the modules placed after this one may go: when it is live, which
	// can be before its load call returns, or else when res is final. usable says whether it
	// is loaded (or would be, in a dry run); it is written before ready is closed.
	ready     chan struct{}
	readyOnce sync.Once
	usable    bool
	res       Result
}

// markReady closes n.ready, once.
func (n *node) markReady(usable bool) {
	n.readyOnce.Do(func() {
		n.usable = usable
		close(n.ready)
	})
}

// planner builds the load order of a request the way libkmod builds its probe list: for each
// module, its dependencies (each preceded by its softdep pre modules and followed by its post
// modules), then the module's own pre softdeps, the module, its post softdeps.
type planner struct {
	l     *Loader
	nodes map[int]*node
	order []*node
	extra []*node // softdeps that did not resolve
}

func (p *planner) node(i int) (*node, error) {
	if n, ok := p.nodes[i]; ok {
		return n, nil
	}
	m, err := p.l.ix.Module(i)
	if err != nil {
		return nil, err
	}
	n := &node{mod: i, name: p.l.ix.Name(i), builtin: m.GetBuiltin()}
	if !n.builtin {
		n.path = joinModPath(p.l.modDir, m.GetPath())
	}
	p.nodes[i] = n
	return n, nil
}

// visit adds module i with its dependencies and softdeps.
func (p *planner) visit(i int, required bool, via string, softdep bool) (*node, error) {
	if n, ok := p.nodes[i]; ok {
		if required {
			n.required = true
		}
		return n, nil
	}
	closure, err := p.l.ix.Closure([]int{i})
	if err != nil {
		return nil, err
	}
	// Each dependency's Via is the module nearest to i that depends on it.
	dependent := map[int]string{}
	for k := len(closure) - 1; k >= 0; k-- {
		m, err := p.l.ix.Module(closure[k])
		if err != nil {
			return nil, err
		}
		for _, d := range m.GetDepends() {
			if _, ok := dependent[int(d)]; !ok {
				dependent[int(d)] = p.l.ix.Name(closure[k])
			}
		}
	}
	for _, d := range closure[:len(closure)-1] {
		n, err := p.node(d)
		if err != nil {
			return nil, err
		}
		if n.via == "" && !n.placed {
			n.via = dependent[d]
		}
		if required {
			n.required = true
		}
		if err := p.fill(n); err != nil {
			return nil, err
		}
	}
	n, err := p.node(i)
	if err != nil {
		return nil, err
	}
	if !n.placed {
		n.via, n.softdep = via, softdep
	}
	if required {
		n.required = true
	}
	return n, p.fill(n)
}

// fill places n preceded by its pre softdeps and followed by its post softdeps.
func (p *planner) fill(n *node) error {
	if n.placed || n.placing {
		return nil
	}
	n.placing = true // a softdep cycle back to n stops here
	pre, post, err := p.softdeps(n)
	if err != nil {
		return err
	}
	for _, name := range pre {
		deps, err := p.soft(name, n)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if d.placed {
				n.after = append(n.after, d)
			}
		}
	}
	m, err := p.l.ix.Module(n.mod)
	if err != nil {
		return err
	}
	for _, d := range m.GetDepends() {
		dn, err := p.node(int(d))
		if err != nil {
			return err
		}
		n.after = append(n.after, dn)
		n.hard = append(n.hard, dn)
	}
	n.placed = true
	p.order = append(p.order, n)
	for _, name := range post {
		deps, err := p.soft(name, n)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if d != n && !containsNode(d.after, n) && p.placedAfter(d, n) {
				d.after = append(d.after, n)
			}
		}
	}
	return nil
}

func containsNode(list []*node, n *node) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

// placedAfter reports whether d comes after n in the order.
func (p *planner) placedAfter(d, n *node) bool {
	seenN := false
	for _, x := range p.order {
		if x == n {
			seenN = true
		}
		if x == d {
			return seenN && d != n
		}
	}
	return false
}

// softdeps returns n's softdeps: a modprobe.d softdep line replaces the index's.
func (p *planner) softdeps(n *node) (pre, post []string, err error) {
	if pre, post, ok := p.l.cfg.Softdeps(n.name); ok {
		return pre, post, nil
	}
	m, err := p.l.ix.Module(n.mod)
	if err != nil {
		return nil, nil, err
	}
	return m.GetSoftdepPre(), m.GetSoftdepPost(), nil
}

// soft resolves one softdep of n like a modprobe argument and visits what it names.
func (p *planner) soft(name string, n *node) ([]*node, error) {
	targets, err := p.l.resolve(name)
	if err != nil {
		p.extra = append(p.extra, &node{mod: -1, name: name, via: n.name, softdep: true,
			err: fmt.Errorf("softdep %s of %s: %w", name, n.name, err)})
		return nil, nil
	}
	var out []*node
	for _, t := range targets {
		if t.mod < 0 {
			p.extra = append(p.extra, &node{mod: -1, name: t.name, via: n.name, softdep: true, err: t.err})
			continue
		}
		d, err := p.visit(t.mod, false, n.name, true)
		if err != nil {
			return nil, err
		}
		if d.alias == "" && t.alias != "" {
			d.alias = t.alias
		}
		out = append(out, d)
	}
	return out, nil
}

// load plans and runs a set of requests.
func (l *Loader) load(ctx context.Context, reqs []Request, blacklistNames bool) ([]Result, error) {
	p := &planner{l: l, nodes: map[int]*node{}}
	var errs []error
	var front []*node // results for requests that resolved to nothing loadable
	for _, r := range reqs {
		targets, err := l.resolve(r.Name)
		if err != nil {
			errs = append(errs, err)
			front = append(front, &node{mod: -1, name: r.Name, required: true, target: true, err: err})
			continue
		}
		for _, t := range targets {
			if t.mod < 0 {
				n := &node{mod: -1, name: t.name, alias: t.alias, required: true, target: true, err: t.err}
				if t.err != nil {
					errs = append(errs, t.err)
				}
				front = append(front, n)
				continue
			}
			if src, ok := l.cfg.Blacklisted(t.name); ok && (t.viaAlias || blacklistNames) {
				if _, seen := p.nodes[t.mod]; !seen {
					front = append(front, &node{mod: t.mod, name: t.name, alias: t.alias, target: true, black: src})
				}
				continue
			}
			n, err := p.visit(t.mod, true, "", false)
			if err != nil {
				return nil, err
			}
			n.target = true
			n.via, n.softdep = "", false
			if t.alias != "" && n.alias == "" {
				n.alias = t.alias
			}
			n.params = joinParams(n.params, r.Params)
		}
	}
	all := append(append(front, p.order...), p.extra...)
	l.run(ctx, p.order, all)
	results := make([]Result, 0, len(all))
	for _, n := range all {
		results = append(results, n.res)
		if n.res.State == StateFailed && n.required && n.mod >= 0 {
			errs = append(errs, n.res.Err)
		}
	}
	if err := ctx.Err(); err != nil && len(errs) == 0 {
		for _, r := range results {
			if r.State == StateSkipped && r.Err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return results, errors.Join(errs...)
}

func joinParams(a, b string) string {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// run executes the planned nodes (order) and finishes the unplanned ones (the rest of all).
func (l *Loader) run(ctx context.Context, order, all []*node) {
	inOrder := map[*node]bool{}
	for _, n := range order {
		inOrder[n] = true
		n.done = make(chan struct{})
		n.ready = make(chan struct{})
	}
	for _, n := range all {
		if !inOrder[n] {
			n.res = l.finishUnplanned(n)
			l.trace(PhaseDone, n.res)
		}
	}
	if l.opts.DryRun {
		for _, n := range order {
			n.res = l.execute(ctx, n)
			n.markReady(n.res.State.OK() || n.res.State == StateDryRun)
			close(n.done)
		}
		return
	}
	var wg sync.WaitGroup
	for _, n := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, a := range n.after {
				<-a.ready
			}
			n.res = l.execute(ctx, n)
			n.markReady(n.res.State.OK() || n.res.State == StateDryRun)
			close(n.done)
		}()
	}
	wg.Wait()
}

func (n *node) base() Result {
	return Result{Module: n.name, Path: n.path, Params: n.params, Via: n.via, Softdep: n.softdep, Alias: n.alias}
}

func (l *Loader) finishUnplanned(n *node) Result {
	r := n.base()
	r.Start = time.Now()
	r.End = r.Start
	switch {
	case n.black != "":
		r.State = StateBlacklisted
	case n.err != nil:
		r.State, r.Err = StateFailed, n.err
	default:
		// A name only modprobe.d's install command knows.
		r.State, r.Err = l.install(n, r)
	}
	return r
}

func (l *Loader) trace(phase Phase, r Result) {
	if l.opts.Trace != nil {
		l.opts.Trace(Event{Phase: phase, Result: r})
	}
}

// execute decides and, unless it is a dry run, performs the load of one planned module once
// everything it comes after is finished.
func (l *Loader) execute(ctx context.Context, n *node) (res Result) {
	r := n.base()
	r.Params = joinParams(l.cfg.Options(n.name, n.alias), n.params)
	r.Start = time.Now()
	defer func() {
		if res.End.IsZero() {
			res.End = time.Now()
		}
		l.trace(PhaseDone, res)
	}()
	if n.builtin {
		r.State = StateBuiltin
		return r
	}
	for _, d := range n.hard {
		// d is ready: either usable (live, perhaps with its call still running) or final.
		if !d.usable {
			r.State = StateSkipped
			r.Err = fmt.Errorf("load %s (%s): not loaded because its dependency %s was not: %v", n.name, n.path, d.name, d.res.Err)
			return r
		}
	}
	if err := ctx.Err(); err != nil {
		r.State, r.Err = StateSkipped, fmt.Errorf("load %s (%s): %w", n.name, n.path, err)
		return r
	}
	if _, _, ok := l.cfg.Install(n.name); ok {
		r.State, r.Err = l.install(n, r)
		return r
	}
	if l.opts.DryRun {
		if !l.opts.IgnoreLoaded {
			if st, err := ReadInitState(l.opts.Root, n.name); err == nil && (st == Live || st == Coming || st == Builtin) {
				r.State = StateAlready
				return r
			}
		}
		r.State = StateDryRun
		return r
	}
	return l.loadCoalesced(ctx, n, r)
}

// install handles a modprobe.d install command for n: /bin/true skips the module, /bin/false
// fails it, and any other command is refused.
func (l *Loader) install(n *node, r Result) (State, error) {
	cmd, src, ok := l.cfg.Install(n.name)
	if !ok {
		return StateFailed, fmt.Errorf("load %s: %w", n.name, &modindex.NotFoundError{Name: n.name, Source: l.ix.Source(), Subset: l.ix.Subset()})
	}
	switch strings.TrimSpace(cmd) {
	case "/bin/true", "/usr/bin/true", "true", ":":
		return StateSkipped, nil
	case "/bin/false", "/usr/bin/false", "false":
		return StateFailed, &LoadError{Module: n.name, Path: r.Path, Op: "install", Err: errors.New("disabled by " + src + ": install " + n.name + " " + cmd),
			Hint: "modprobe.d forbids loading this module"}
	}
	return StateFailed, &LoadError{Module: n.name, Path: r.Path, Op: "install", Err: &UnsupportedError{Module: n.name, Kind: "install", Command: cmd, Source: src}}
}

// loadCoalesced loads n once for all concurrent requests. Whoever waits on another request's
// load lets its own dependents go as soon as that module is live.
func (l *Loader) loadCoalesced(ctx context.Context, n *node, r Result) Result {
	l.mu.Lock()
	if f := l.flights[n.mod]; f != nil {
		l.mu.Unlock()
		live := f.live
		for done := false; !done; {
			select {
			case <-live:
				n.markReady(true)
				live = nil
			case <-f.done:
				done = true
			case <-ctx.Done():
				r.State, r.Err = StateSkipped, fmt.Errorf("load %s (%s): %w", n.name, n.path, ctx.Err())
				return r
			}
		}
		got := f.res
		got.Via, got.Softdep, got.Alias = r.Via, r.Softdep, r.Alias
		return got
	}
	f := &flight{done: make(chan struct{}), live: make(chan struct{})}
	l.flights[n.mod] = f
	l.mu.Unlock()

	res := l.loadFile(ctx, n, r, func(live Result) {
		n.markReady(true)
		close(f.live)
		l.trace(PhaseLive, live)
	})

	l.mu.Lock()
	delete(l.flights, n.mod)
	l.mu.Unlock()
	f.res = res
	close(f.done)
	return res
}

// kernelCompression returns the compression the kernel decompresses in finit_module, from
// <root>/sys/module/compression ("" when the file is absent: no in-kernel decompression).
func (l *Loader) kernelCompression() string {
	l.compOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join(rootDir(l.opts.Root), "sys/module/compression"))
		if err == nil {
			l.comp = strings.TrimSpace(string(data))
		}
	})
	return l.comp
}

// loadFile makes the system call for one module. onLive is called, from another goroutine,
// if the module turns live while the call is still running (see DefaultLivePoll); the call's
// load slot is given back at that moment. onLive must not block.
func (l *Loader) loadFile(ctx context.Context, n *node, r Result, onLive func(Result)) Result {
	if !l.opts.IgnoreLoaded {
		st, err := ReadInitState(l.opts.Root, n.name)
		if err != nil {
			r.State, r.Err, r.End = StateFailed, &LoadError{Module: n.name, Path: n.path, Op: "check state", Err: err}, time.Now()
			return r
		}
		// A directory without initstate belongs to a module the kernel is still setting up:
		// libkmod calls that "coming" too.
		if st == Live || st == Coming || st == Builtin {
			r.State, r.End = StateAlready, time.Now()
			return r
		}
	}
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		r.State, r.Err, r.End = StateSkipped, fmt.Errorf("load %s (%s): %w", n.name, n.path, ctx.Err()), time.Now()
		return r
	}
	release := sync.OnceFunc(func() { <-l.sem })
	defer release()

	r.Start = time.Now()
	comp := modinfo.Compression(n.path)
	switch {
	case comp == "":
		r.Call = "finit_module"
	case comp == l.kernelCompression():
		r.Call = "finit_module(compressed)"
	default:
		r.Call = "init_module"
	}
	started := r
	w := l.live.watch(n.name, func(at time.Time) {
		release()
		started.Live = at
		onLive(started)
	})
	defer l.live.unwatch(w)
	var err error
	switch r.Call {
	case "finit_module":
		r.CPU, err = l.finit(n, r, 0)
	case "finit_module(compressed)":
		r.CPU, err = l.finit(n, r, FlagCompressedFile)
		if errors.Is(err, syscall.EOPNOTSUPP) {
			r.Call = "init_module"
			var cpu time.Duration
			cpu, err = l.initModule(n, r)
			r.CPU += cpu
		}
	default:
		r.CPU, err = l.initModule(n, r)
	}
	r.End = time.Now()
	if at := w.liveAt(); err == nil && !at.IsZero() && at.Before(r.End) {
		r.Live = at
	}
	switch {
	case err == nil:
		r.State = StateLoaded
	case errors.Is(err, syscall.EEXIST):
		r.State = StateAlready
	default:
		var le *LoadError
		if !errors.As(err, &le) {
			err = &LoadError{Module: n.name, Path: n.path, Op: r.Call, Err: err, Hint: Hint(err)}
		}
		r.State, r.Err = StateFailed, err
	}
	return r
}

func (l *Loader) finit(n *node, r Result, flags int) (time.Duration, error) {
	f, err := sysread.Open(n.path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the LoadError already
		}
		return 0, &LoadError{Module: n.name, Path: n.path, Op: "open", Err: err, Hint: "the module file is missing from the image: rebuild it with this module, or rebuild meta.pb for the files present"}
	}
	defer f.Close()
	l.trace(PhaseStart, r)
	return measured(func() error { return l.kernel.FinitModule(f.Fd(), r.Params, flags) })
}

func (l *Loader) initModule(n *node, r Result) (time.Duration, error) {
	image, err := l.decompress(n.path)
	if err != nil {
		hint := "the module file is corrupt or truncated: reinstall it"
		if errors.Is(err, os.ErrNotExist) {
			hint = "the module file is missing from the image: rebuild it with this module, or rebuild meta.pb for the files present"
		}
		return 0, &LoadError{Module: n.name, Path: n.path, Op: "decompress", Err: err, Hint: hint}
	}
	l.trace(PhaseStart, r)
	return measured(func() error { return l.kernel.InitModule(image, r.Params) })
}

// measured makes a load system call and returns its error and the CPU time its thread used
// meanwhile (Result.CPU). The goroutine stays on its thread for the call, so that both
// readings of the thread's clock are of the thread that made it, and the thread blocks signals
// meanwhile, so that none is pending while the module's init runs (see blockSignals).
func measured(call func() error) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mask, blocked := blockSignals()
	defer restoreSignals(mask, blocked) // before the thread is let go
	t0 := threadCPU()
	err := call()
	return max(threadCPU()-t0, 0), err
}

// joinModPath returns the absolute path of a module file.
func joinModPath(dir, rel string) string { return filepath.Join(dir, rel) }
