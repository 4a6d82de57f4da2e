package main

import (
	"context"
	"errors"

	"github.com/kmodboot/kmodboot/pkg/coldplug"
	"github.com/kmodboot/kmodboot/pkg/kmod"
	"github.com/kmodboot/kmodboot/pkg/modindex"
)

// kmodLoader adapts kmod.Loader to coldplug.Loader.
type kmodLoader struct{ l *kmod.Loader }

var outcomes = map[kmod.State]coldplug.Outcome{
	kmod.StateLoaded:      coldplug.Loaded,
	kmod.StateAlready:     coldplug.Already,
	kmod.StateBuiltin:     coldplug.Builtin,
	kmod.StateBlacklisted: coldplug.Blacklisted,
	kmod.StateSkipped:     coldplug.Skipped,
	kmod.StateFailed:      coldplug.Failed,
	kmod.StateDryRun:      coldplug.DryRun,
}

// NoteLive passes on the kernel's word that module is live (coldplug.LiveNoter).
func (k kmodLoader) NoteLive(module string) { k.l.NoteLive(module) }

// LoadAlias loads what modalias resolves to. A modalias that nothing answers is "no module"
// (no results, no error), which is normal for many devices, not a failure.
func (k kmodLoader) LoadAlias(ctx context.Context, modalias string) ([]coldplug.ModuleResult, error) {
	res, err := k.l.LoadAlias(ctx, modalias)
	var out []coldplug.ModuleResult
	for _, r := range res {
		var nf *modindex.NotFoundError
		if r.State == kmod.StateFailed && errors.As(r.Err, &nf) && r.Path == "" {
			continue // the request itself found nothing: not a module
		}
		o, ok := outcomes[r.State]
		if !ok {
			o = coldplug.Failed
		}
		out = append(out, coldplug.ModuleResult{
			Module:  r.Module,
			Outcome: o,
			Err:     r.Err,
			Via:     r.Via,
			Softdep: r.Softdep,
			Call:    r.Call,
			Start:   r.Start,
			End:     r.End,
			Live:    r.Live,
			CPU:     r.CPU,
		})
	}
	if len(out) == 0 {
		var nf *modindex.NotFoundError
		if err == nil || errors.As(err, &nf) {
			return nil, nil
		}
		return nil, err
	}
	return out, nil
}
