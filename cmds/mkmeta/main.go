// mkmeta builds meta.pb, kmodboot's module index, from a kernel module tree.
//
// Synopsis:
//
//	mkmeta [-root DIR] [-r RELEASE] [-o FILE] [-class nic,storage,fs] [-m NAME|GLOB]...
//	       [-stage DIR] [-j N] [-v]
//
// Description:
//
// mkmeta reads every module of /lib/modules/RELEASE (RELEASE defaults to `uname -r`) and
// writes an index of their names, paths, dependencies, softdeps and firmware together with a
// match table over all their aliases, like depmod does for kmod.
//
// -root DIR takes the tree from an unpacked root, DIR/lib/modules/RELEASE, as `depmod -b`
// does; if DIR has exactly one release, -r may be left out. DIR may also be a module tree
// itself (a directory with modules.order or kernel/).
//
// -class and -m index a subset: the modules of the named classes (nic: wired network drivers,
// storage: disk and controller drivers, fs: file systems) and of the named modules, globs or
// aliases (-m may repeat, or take a comma-separated list), closed over their dependencies and
// softdeps. Built-in modules are always indexed.
//
// -stage DIR copies the indexed module files into DIR/lib/modules/RELEASE/ with
// modules.builtin, modules.builtin.modinfo, a filtered modules.order and meta.pb, ready to be
// packed into an initramfs; -o is then optional.
//
// mkmeta prints a one-line summary: module counts, alias patterns, bytes written and time.
// -v also prints every dropped alias and unresolved softdep.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodboot/kmodboot/pkg/metabuild"
	"github.com/kmodboot/kmodboot/pkg/modindex"
)

const name = "mkmeta"

func main() {
	log.SetFlags(0)
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // the flag set has printed the usage
	}
	if err != nil {
		log.Fatalf("%s: %v", name, err)
	}
}

// listFlag collects repeated, comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		root     = fs.String("root", "", "take modules from `DIR`/lib/modules/RELEASE (or from DIR itself if it is a module tree)")
		release  = fs.String("r", "", "kernel `RELEASE` (default: the only one under -root, else uname -r)")
		out      = fs.String("o", "", "write the index to `FILE` (default meta.pb, or only the staged copy with -stage)")
		stage    = fs.String("stage", "", "copy the indexed modules and meta.pb into `DIR`/lib/modules/RELEASE")
		workers  = fs.Int("j", 0, "read `N` modules at once (default GOMAXPROCS)")
		verbose  = fs.Bool("v", false, "print every dropped alias and unresolved softdep")
		classes  listFlag
		selected listFlag
	)
	fs.Var(&classes, "class", "index only `CLASSES` (comma-separated: "+strings.Join(metabuild.Classes(), ", ")+") and their dependencies")
	fs.Var(&selected, "m", "index only module `NAME`, glob or alias (repeatable) and its dependencies")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; modules are chosen with -m", fs.Args())
	}
	moduleRoot, rel, err := moduleTree(*root, *release)
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, name+": warning: "+format+"\n", args...) }
	opts := metabuild.Options{
		ModuleRoot: moduleRoot,
		Release:    rel,
		Workers:    *workers,
		Classes:    classes,
		Names:      selected,
		Logf:       logf,
	}
	if *verbose {
		opts.Debugf = func(format string, args ...any) { fmt.Fprintf(stderr, name+": "+format+"\n", args...) }
	}

	start := time.Now()
	idx, st, err := metabuild.BuildStats(opts)
	if err != nil {
		return err
	}
	var written []string
	size := 0
	if *out != "" || *stage == "" {
		path := *out
		if path == "" {
			path = metabuild.MetaName
		}
		if size, err = metabuild.WriteFile(path, idx); err != nil {
			return err
		}
		written = append(written, path)
	}
	if *stage != "" {
		meta, err := metabuild.Stage(idx, moduleRoot, *stage)
		if err != nil {
			return err
		}
		if size == 0 {
			data, err := metabuild.Marshal(idx)
			if err != nil {
				return err
			}
			size = len(data)
		}
		written = append(written, meta)
	}
	elapsed := time.Since(start)

	what := "full tree"
	if idx.GetSubset() {
		what = "subset " + strings.Join(idx.GetSelection(), " ")
	}
	fmt.Fprintf(stdout, "%s: %s %s (%s): %d modules, %d built-in, %d alias patterns, %d aliases dropped, %d duplicates; %d bytes to %s in %.3fs\n",
		name, idx.GetKernelRelease(), what, moduleRoot, st.Modules, st.Builtins, st.Patterns,
		st.DroppedAliases, st.Duplicates, size, strings.Join(written, ", "), elapsed.Seconds())
	if *verbose {
		fmt.Fprintf(stdout, "%s: %d module files, %d vermagic strings, %d unresolved softdeps, config files: %q\n",
			name, st.Files, st.Vermagics, st.UnresolvedSoftdeps, st.ConfigFiles)
	}
	return nil
}

// moduleTree turns -root and -r into a module root and release.
func moduleTree(root, release string) (string, string, error) {
	if root == "" {
		root = "/"
	}
	base := filepath.Join(root, "lib", "modules")
	if release == "" {
		if looksLikeModuleTree(root) {
			return root, filepath.Base(filepath.Clean(root)), nil
		}
		if root != "/" {
			ents, err := os.ReadDir(base)
			if err != nil {
				return "", "", fmt.Errorf("-root %s: %w (want an unpacked root with lib/modules/RELEASE, or a module tree)", root, err)
			}
			var dirs []string
			for _, e := range ents {
				if e.IsDir() {
					dirs = append(dirs, e.Name())
				}
			}
			if len(dirs) != 1 {
				return "", "", fmt.Errorf("-root %s: %s holds %d releases %q; choose one with -r", root, base, len(dirs), dirs)
			}
			release = dirs[0]
		} else {
			r, err := modindex.RunningRelease()
			if err != nil {
				return "", "", fmt.Errorf("cannot tell the running kernel's release (%w); pass -r", err)
			}
			release = r
		}
	} else if looksLikeModuleTree(root) && !isDir(filepath.Join(base, release)) {
		return root, release, nil
	}
	dir := filepath.Join(base, release)
	if !isDir(dir) {
		return "", "", fmt.Errorf("no module tree at %s; check -root and -r", dir)
	}
	return dir, release, nil
}

func looksLikeModuleTree(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "modules.order")); err == nil {
		return true
	}
	return isDir(filepath.Join(dir, "kernel"))
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
