package kmod

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/kmodboot/kmodboot/pkg/modindex"
)

// Unload removes the module(s) a name or alias resolves to, like `modprobe -r`: first the
// module's post softdeps that nothing uses, then the module itself (refused while it is in use),
// then its hard dependencies and pre softdeps that are no longer used. A dependency still in use
// stays loaded (StateInUse), which is not an error. Reference counts and holders come from
// <root>/proc/modules, read afresh before each removal.
func (l *Loader) Unload(ctx context.Context, nameOrAlias string) ([]Result, error) {
	targets, err := l.resolve(nameOrAlias)
	if err != nil {
		return nil, err
	}
	var results []Result
	var errs []error
	for _, t := range targets {
		if t.err != nil {
			errs = append(errs, t.err)
			continue
		}
		rs, err := l.unloadOne(ctx, t)
		results = append(results, rs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return results, errors.Join(errs...)
}

func (l *Loader) unloadOne(ctx context.Context, t target) ([]Result, error) {
	if t.mod < 0 {
		return nil, &modindex.NotFoundError{Name: t.name, Source: l.ix.Source(), Subset: l.ix.Subset()}
	}
	m, err := l.ix.Module(t.mod)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	main := Result{Module: t.name, Alias: t.alias, Start: now, End: now}
	if m.GetBuiltin() {
		main.State = StateFailed
		main.Err = fmt.Errorf("unload %s: %w into the kernel: it cannot be removed", t.name, ErrBuiltin)
		return []Result{main}, main.Err
	}
	main.Path = l.modPath(t.mod)
	mods, err := ReadProcModules(l.opts.Root)
	if err != nil {
		return nil, fmt.Errorf("unload %s: %w", t.name, err)
	}
	loaded := procIndex(mods)
	pm, ok := loaded[t.name]
	if !ok {
		main.State = StateNotLoaded
		main.Err = fmt.Errorf("unload %s: module %s is not loaded", t.name, t.name)
		return []Result{main}, main.Err
	}
	if cmd, src, ok := l.cfg.Remove(t.name); ok {
		switch strings.TrimSpace(cmd) {
		case "/bin/true", "/usr/bin/true", "true", ":":
			main.State = StateSkipped
			return []Result{main}, nil
		default:
			main.State = StateFailed
			main.Err = &LoadError{Module: t.name, Path: main.Path, Op: "remove", Err: &UnsupportedError{Module: t.name, Kind: "remove", Command: cmd, Source: src}}
			return []Result{main}, main.Err
		}
	}
	pre, post, err := (&planner{l: l, nodes: map[int]*node{}}).softdeps(&node{mod: t.mod, name: t.name})
	if err != nil {
		return nil, err
	}
	var results []Result
	// Post softdeps were loaded after the module and may hold it: they go first.
	for i := len(post) - 1; i >= 0; i-- {
		results = append(results, l.unloadUnused(ctx, post[i], t.name, true)...)
	}
	if pm.Refcount > 0 || len(pm.Holders) > 0 {
		if mods, err := ReadProcModules(l.opts.Root); err == nil {
			pm = procIndex(mods)[t.name]
		}
	}
	if pm.Refcount > 0 || len(pm.Holders) > 0 {
		main.State = StateInUse
		by := ""
		if len(pm.Holders) > 0 {
			by = " by " + strings.Join(pm.Holders, ", ")
		}
		main.Err = fmt.Errorf("unload %s: %w%s (reference count %d): remove those first", t.name, ErrInUse, by, pm.Refcount)
		return append(results, main), main.Err
	}
	main = l.remove(t.name, main.Path, "", false)
	main.Alias = t.alias
	results = append(results, main)
	if main.Err != nil {
		return results, main.Err
	}
	closure, err := l.ix.Closure([]int{t.mod})
	if err != nil {
		return results, err
	}
	for i := len(closure) - 2; i >= 0; i-- {
		if r, ok := l.removeIfUnused(ctx, closure[i], t.name, false); ok {
			results = append(results, r)
		}
	}
	for i := len(pre) - 1; i >= 0; i-- {
		results = append(results, l.unloadUnused(ctx, pre[i], t.name, true)...)
	}
	return results, nil
}

func procIndex(mods []ProcModule) map[string]ProcModule {
	out := make(map[string]ProcModule, len(mods))
	for _, m := range mods {
		out[m.Name] = m
	}
	return out
}

func (l *Loader) modPath(i int) string {
	m, err := l.ix.Module(i)
	if err != nil || m.GetBuiltin() {
		return ""
	}
	return joinModPath(l.modDir, m.GetPath())
}

// unloadUnused removes the modules a softdep names, where they are loaded and unused.
func (l *Loader) unloadUnused(ctx context.Context, name, via string, softdep bool) []Result {
	targets, err := l.resolve(name)
	if err != nil {
		return nil
	}
	var out []Result
	for _, t := range targets {
		if t.mod < 0 {
			continue
		}
		if r, ok := l.removeIfUnused(ctx, t.mod, via, softdep); ok {
			out = append(out, r)
		}
	}
	return out
}

// removeIfUnused removes module i if it is loaded, loadable and unused; ok is false when it was
// not loaded or is built in (nothing to report).
func (l *Loader) removeIfUnused(ctx context.Context, i int, via string, softdep bool) (Result, bool) {
	name := l.ix.Name(i)
	path := l.modPath(i)
	if path == "" || ctx.Err() != nil {
		return Result{}, false
	}
	mods, err := ReadProcModules(l.opts.Root)
	if err != nil {
		now := time.Now()
		return Result{Module: name, Path: path, Via: via, Softdep: softdep, State: StateFailed, Err: fmt.Errorf("unload %s: %w", name, err), Start: now, End: now}, true
	}
	pm, ok := procIndex(mods)[name]
	if !ok {
		return Result{}, false
	}
	if pm.Refcount != 0 || len(pm.Holders) > 0 {
		now := time.Now()
		return Result{Module: name, Path: path, Via: via, Softdep: softdep, State: StateInUse, Start: now, End: now}, true
	}
	return l.remove(name, path, via, softdep), true
}

// remove calls delete_module (unless this is a dry run).
func (l *Loader) remove(name, path, via string, softdep bool) Result {
	r := Result{Module: name, Path: path, Via: via, Softdep: softdep, Start: time.Now()}
	if l.opts.DryRun {
		r.State, r.End = StateDryRun, r.Start
		l.trace(PhaseDone, r)
		return r
	}
	r.Call = "delete_module"
	l.trace(PhaseStart, r)
	err := l.kernel.DeleteModule(name, unloadFlags)
	r.End = time.Now()
	switch {
	case err == nil:
		r.State = StateUnloaded
	case errors.Is(err, syscall.ENOENT):
		r.State = StateNotLoaded
	case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EBUSY):
		r.State = StateInUse
		r.Err = &LoadError{Module: name, Path: path, Op: "delete_module", Err: err, Hint: "the module is in use"}
	default:
		hint := Hint(err)
		if errors.Is(err, syscall.EPERM) {
			hint = "need CAP_SYS_MODULE (run as root), or the module cannot be unloaded (no exit function, or the kernel lacks CONFIG_MODULE_UNLOAD)"
		}
		r.State = StateFailed
		r.Err = &LoadError{Module: name, Path: path, Op: "delete_module", Err: err, Hint: hint}
	}
	l.trace(PhaseDone, r)
	return r
}
