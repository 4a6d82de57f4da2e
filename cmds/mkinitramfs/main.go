// mkinitramfs builds kmodboot's bootable initramfs on the build host.
//
// Synopsis:
//
//	mkinitramfs -kernel DIR [-r RELEASE] [-class nic,storage,fs] [-m M,...]
//	            [-no-modules] [-mkmeta PATH] [-commands PKG,...] [-files HOST:GUEST,...]
//	            [-compress zstd|xz|none] -o FILE
//
// Description:
//
// mkinitramfs builds a gobusybox of u-root's core commands and kmodboot's kinit, modload,
// coldplug and modmatch (see package initramfs), stages the chosen module subset of the kernel
// unpacked in DIR (scripts/fetch-kernel.sh prints it) with mkmeta, and writes the compressed
// image to FILE. /init is kinit, /sbin/modprobe is modload and /bin/sh is gosh. It prints one
// line with the image's size and contents.
//
// It must run inside the kmodboot module (it builds ./cmds/...); -repo names the module root
// when the working directory is elsewhere.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodboot/kmodboot/initramfs"
)

const name = "mkinitramfs"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		log.Fatalf("%s: %v", name, err)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o                       initramfs.Options
		classes, mods, cmds, fl string
	)
	fs.StringVar(&o.KernelDir, "kernel", "", "unpacked kernel `dir` holding lib/modules/RELEASE (scripts/fetch-kernel.sh prints it)")
	fs.StringVar(&o.Release, "r", "", "kernel `release` (default: the only one under DIR/lib/modules)")
	fs.StringVar(&classes, "class", "default", "module `classes` to include whole (mkmeta -class); default: nic,storage minus initramfs.DefaultDrop plus the root filesystems; none: only the -m modules")
	fs.StringVar(&mods, "m", "", "extra `modules` to include by name, glob or alias (mkmeta -m)")
	fs.BoolVar(&o.NoModules, "no-modules", false, "build without any kernel module")
	fs.StringVar(&o.Mkmeta, "mkmeta", "", "mkmeta `binary` (default: build ./cmds/mkmeta)")
	fs.StringVar(&cmds, "commands", "", "comma-separated Go `packages` for the busybox (default: u-root core set + kmodboot's commands)")
	fs.StringVar(&fl, "files", "", "comma-separated extra `files` as HOST:GUEST")
	fs.StringVar(&o.Compression, "compress", "zstd", "compression: zstd, xz or none")
	fs.StringVar(&o.Output, "o", "", "output `file`")
	fs.StringVar(&o.RepoRoot, "repo", "", "kmodboot module `root` (default: found from the working directory)")
	verbose := fs.Bool("v", false, "print build progress")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.Output == "" {
		return errors.New("no output file: give -o FILE")
	}
	switch classes {
	case "default":
		o.Classes = nil
	case "none":
		o.Classes = []string{} // only the -m modules
	default:
		o.Classes = split(classes)
	}
	o.Modules, o.ExtraFiles = split(mods), split(fl)
	if cmds != "" {
		o.Commands = split(cmds)
	}
	if o.RepoRoot == "" {
		root, err := findModuleRoot()
		if err != nil {
			return err
		}
		o.RepoRoot = root
	}
	o.Log = io.Discard
	if *verbose {
		o.Log = stderr
	} else {
		o.Log = warnOnly{stderr}
	}
	res, err := initramfs.Build(context.Background(), o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// findModuleRoot walks up from the working directory to kmodboot's go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/kmodboot/kmodboot\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the kmodboot module: run from its checkout or give -repo")
		}
		dir = parent
	}
}

// warnOnly passes through the lines that carry warnings or errors.
type warnOnly struct{ w io.Writer }

func (w warnOnly) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if strings.Contains(line, "warning") || strings.Contains(line, "rror") {
			io.WriteString(w.w, line)
		}
	}
	return len(p), nil
}
