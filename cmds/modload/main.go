// modload loads Linux kernel modules with their dependencies and softdeps, from a meta.pb
// index. It speaks modprobe's language, and installed as /sbin/modprobe (a symlink: it behaves
// the same under either name) it serves the kernel's request_module calls.
//
// Synopsis:
//
//	modload [-n] [-v] [-q] [-b] [-D] [-d ROOT] [-S RELEASE] [-meta FILE] [-j N] [--] NAME|ALIAS [param=val...]
//	modload -a [options] [--] NAME|ALIAS...
//	modload -r [-n] [-v] [-q] [options] [--] NAME...
//
// Description:
//
// modload resolves NAME|ALIAS like modprobe: modprobe.d aliases first, then a module of that
// name, then module aliases (a device modalias such as pci:v00008086d0000100Esv..., or
// fs-ext4, crypto-crc32c, net-pf-10), then built-in modules. It loads the module(s) after their
// dependencies, independent ones in parallel (-j, default 4 per CPU, at least 8), with softdep pre
// modules before and post modules after; a softdep that fails is reported but does not fail the
// command. Parameters come from modprobe.d "options" lines, then from the kernel command line
// (<module>.<param>=<value>), then from the command's arguments. A module already loaded is
// success, as is a blacklisted module found through an alias (it is not loaded).
//
// Flags:
//
//	-a, --all            every argument is a module name or alias (no parameters)
//	-n, --dry-run        do everything but load; with -v print what would be loaded
//	-v, --verbose        print "insmod PATH PARAMS" for each module loaded, and warnings
//	-q, --quiet          print nothing when a module is not found (the exit status still says it)
//	-r, --remove         unload the modules, then their dependencies that nothing uses any more
//	-D, --show-depends   print the modules that would be loaded, in order, as "insmod PATH
//	                     PARAMS" or "builtin NAME" lines, whether or not they are loaded
//	-b, --use-blacklist  apply the blacklist to modules named explicitly too
//	-d, --dirname ROOT   use ROOT as the root directory: its lib/modules, modprobe.d, proc and sys
//	-S, --set-version R  the kernel release (default: uname -r)
//	-meta FILE           the index (default: ROOT/lib/modules/RELEASE/meta.pb)
//	-j N                 at most N modules loading at once (default: 4 per CPU, at least 8)
//
// The index must have been built for the kernel release in use: another release's modules
// would not load, so modload refuses it. The exit status is 0 on success and 1 when a module
// (or a hard dependency of one) was not found or failed to load, or on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kmodboot/kmodboot/pkg/kmod"
	"github.com/kmodboot/kmodboot/pkg/modindex"
)

func main() {
	name := filepath.Base(os.Args[0])
	if err := run(name, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		var s silentError
		if !errors.As(err, &s) {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		}
		os.Exit(1)
	}
}

// silentError fails the command without printing anything more (what there was to say has
// been said, or -q asked for silence).
type silentError struct{ err error }

func (s silentError) Error() string { return s.err.Error() }
func (s silentError) Unwrap() error { return s.err }

// boolFlags are the one-letter flags that may be combined, as in "-qv".
const boolFlags = "anvqrDb"

// valueFlags take a value as the next argument.
var valueFlags = map[string]bool{"d": true, "dirname": true, "S": true, "set-version": true, "meta": true, "j": true}

// expandShort turns "-qv" into "-q -v" for the flag package, up to the first argument that is
// not a flag.
func expandShort(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			return append(out, args[i:]...)
		}
		name := strings.TrimLeft(a, "-")
		if k, _, ok := strings.Cut(name, "="); ok {
			name = k
		} else if valueFlags[name] && i+1 < len(args) {
			out = append(out, a, args[i+1])
			i++
			continue
		}
		if !strings.HasPrefix(a, "--") && len(name) > 1 && strings.Trim(name, boolFlags) == "" {
			for _, c := range name {
				out = append(out, "-"+string(c))
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

type options struct {
	all, dryRun, verbose, quiet, remove, showDepends, blacklist bool
	root, release, meta                                         string
	jobs                                                        int
}

// run is modload; name is how it was invoked ("modload" or "modprobe"). kernel is nil for the
// running kernel.
func run(name string, args []string, stdout, stderr io.Writer, kernel kmod.Kernel) error {
	var o options
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, f := range []struct {
		p           *bool
		short, long string
		usage       string
	}{
		{&o.all, "a", "all", "every argument is a module name or alias"},
		{&o.dryRun, "n", "dry-run", "do not load anything"},
		{&o.verbose, "v", "verbose", "print each module loaded"},
		{&o.quiet, "q", "quiet", "print nothing when a module is not found"},
		{&o.remove, "r", "remove", "unload modules and their unused dependencies"},
		{&o.showDepends, "D", "show-depends", "print what would be loaded, in order"},
		{&o.blacklist, "b", "use-blacklist", "apply the blacklist to explicit names too"},
	} {
		fs.BoolVar(f.p, f.short, false, f.usage)
		fs.BoolVar(f.p, f.long, false, "same as -"+f.short)
	}
	fs.StringVar(&o.root, "d", "/", "root directory")
	fs.StringVar(&o.root, "dirname", "/", "same as -d")
	fs.StringVar(&o.release, "S", "", "kernel release (default: uname -r)")
	fs.StringVar(&o.release, "set-version", "", "same as -S")
	fs.StringVar(&o.meta, "meta", "", "module index (default: ROOT/lib/modules/RELEASE/meta.pb)")
	fs.IntVar(&o.jobs, "j", 0, "modules loading at once (default: 4 per CPU, at least 8)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-a] [-n] [-v] [-q] [-r] [-D] [-b] [-d ROOT] [-S RELEASE] [-meta FILE] [-j N] [--] NAME|ALIAS [param=val...]\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(expandShort(args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return silentError{err}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("missing module name")
	}

	explicitRelease := o.release != ""
	ix, release, err := modindex.OpenRelease(o.root, o.release, o.meta)
	if err != nil {
		return err
	}
	o.release = release
	lopts := kmod.Options{
		Index:          ix,
		Root:           o.root,
		ModuleDir:      filepath.Join(o.root, "lib/modules", o.release),
		Release:        o.release,
		Kernel:         kernel,
		Parallel:       o.jobs,
		DryRun:         o.dryRun || o.showDepends,
		IgnoreLoaded:   o.showDepends,
		BlacklistNames: o.blacklist,
	}
	var mu sync.Mutex // mu serializes output from the loader's goroutines.
	if o.verbose && !lopts.DryRun {
		lopts.Trace = func(ev kmod.Event) {
			if ev.Phase != kmod.PhaseStart {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if o.remove {
				fmt.Fprintf(stdout, "rmmod %s\n", ev.Result.Path)
			} else {
				fmt.Fprintf(stdout, "insmod %s %s\n", ev.Result.Path, ev.Result.Params)
			}
		}
	}
	l, err := kmod.New(lopts)
	if err != nil {
		var re *kmod.ReleaseError
		if errors.As(err, &re) && !explicitRelease {
			return fmt.Errorf("%v (the running kernel is %s)", err, o.release)
		}
		return err
	}
	if o.verbose {
		for _, w := range l.Config().Warnings {
			fmt.Fprintf(stderr, "%s: warning: %s\n", name, w)
		}
	}

	ctx := context.Background()
	if o.remove {
		return unload(ctx, name, l, rest, o, stdout, stderr)
	}
	var reqs []kmod.Request
	if o.all {
		for _, a := range rest {
			reqs = append(reqs, kmod.Request{Name: a})
		}
	} else {
		reqs = []kmod.Request{{Name: rest[0], Params: strings.Join(rest[1:], " ")}}
	}
	results, err := l.LoadAll(ctx, reqs)
	for _, r := range results {
		switch {
		case lopts.DryRun && (o.showDepends || o.verbose) && r.State == kmod.StateDryRun:
			fmt.Fprintf(stdout, "insmod %s %s\n", r.Path, r.Params)
		case o.showDepends && r.State == kmod.StateBuiltin:
			fmt.Fprintf(stdout, "builtin %s\n", r.Module)
		case r.Err != nil && r.Softdep && !o.quiet:
			fmt.Fprintf(stderr, "%s: warning: %v (a softdep of %s: continuing)\n", name, r.Err, r.Via)
		case o.verbose && r.State == kmod.StateBlacklisted:
			fmt.Fprintf(stderr, "%s: %s is blacklisted: not loaded\n", name, r.Module)
		}
	}
	return report(name, err, o.quiet, stderr)
}

// report prints each failure of a joined error on its own line and returns a silent error, so
// the exit status is 1; not-found errors are left out with -q.
func report(name string, err error, quiet bool, stderr io.Writer) error {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var nf *modindex.NotFoundError
		if quiet && errors.As(e, &nf) {
			continue
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, e)
	}
	return silentError{err}
}

func unload(ctx context.Context, name string, l *kmod.Loader, names []string, o options, stdout, stderr io.Writer) error {
	var errs []error
	for _, n := range names {
		results, err := l.Unload(ctx, n)
		for _, r := range results {
			if o.dryRun && o.verbose && r.State == kmod.StateDryRun {
				fmt.Fprintf(stdout, "rmmod %s\n", r.Path)
			}
			if o.verbose && r.State == kmod.StateInUse && r.Err == nil {
				fmt.Fprintf(stderr, "%s: %s is still in use: left loaded\n", name, r.Module)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return report(name, errors.Join(errs...), o.quiet, stderr)
}
