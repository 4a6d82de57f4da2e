// modmatch tells which kernel modules handle a modalias, and why.
//
// Synopsis:
//
//	modmatch [-meta FILE] [-explain] [-json] MODALIAS|ALIAS|NAME...
//	modmatch [-meta FILE] [-explain] [-json] -sysfs [ROOT]
//
// Description:
//
// modmatch answers from a meta.pb index (default /lib/modules/$(uname -r)/meta.pb) exactly as
// kmod's `modprobe -R` would from the same kernel's modules: a module name first, then the
// aliases of loadable modules, then those of built-in modules. Every matching module is printed,
// one per line; a built-in one is marked "(built in)". With several arguments each line starts
// with the argument. -explain adds each module's file and the alias pattern(s) that matched.
//
// -sysfs reads every modalias file under ROOT/sys/devices (ROOT defaults to /) and prints each
// distinct modalias with its devices and modules: what coldplug would load on this machine.
// Devices no module matches are listed too; that is normal (for example a built-in driver whose
// device table kmod does not index either).
//
// -json prints the same answers as a JSON array.
//
// Exit status: 0 when every argument matched a module, 1 when one did not (as `modprobe -R`),
// 2 on a usage or index error. -sysfs exits 0 unless the index or sysfs cannot be read.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"

	"github.com/kmodboot/kmodboot/pkg/coldplug"
	"github.com/kmodboot/kmodboot/pkg/modindex"
)

const name = "modmatch"

// errNoMatch makes run's caller exit 1 without printing another message.
var errNoMatch = errors.New("some arguments matched no module")

func main() {
	log.SetFlags(0)
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errNoMatch):
		os.Exit(1)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		log.Printf("%s: %v", name, err)
		os.Exit(2)
	}
}

// Module is one module in modmatch's answer.
type Module struct {
	Name     string   `json:"name"`
	Path     string   `json:"path,omitempty"`
	Builtin  bool     `json:"builtin,omitempty"`
	Patterns []string `json:"patterns,omitempty"`
}

// Answer is modmatch's answer for one argument or one sysfs modalias.
type Answer struct {
	Alias   string   `json:"alias"`
	Devices []string `json:"devices,omitempty"`
	Modules []Module `json:"modules"`
	Error   string   `json:"error,omitempty"`
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	meta := fs.String("meta", "", "meta.pb to read (default /lib/modules/$(uname -r)/meta.pb)")
	explain := fs.Bool("explain", false, "show each module's file and the patterns that matched")
	asJSON := fs.Bool("json", false, "print a JSON array")
	useSysfs := fs.Bool("sysfs", false, "match every modalias under ROOT/sys/devices (ROOT: the argument, default /)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-meta FILE] [-explain] [-json] MODALIAS...\n       %s [-meta FILE] [-explain] [-json] -sysfs [ROOT]\n", name, name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *useSysfs && fs.NArg() > 1 {
		fs.Usage()
		return fmt.Errorf("-sysfs takes at most one ROOT, got %d arguments", fs.NArg())
	}
	if !*useSysfs && fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no modalias given")
	}
	ix, _, err := modindex.OpenRelease("/", "", *meta)
	if err != nil {
		return err
	}

	var answers []Answer
	if *useSysfs {
		root := "/"
		if fs.NArg() == 1 {
			root = fs.Arg(0)
		}
		scan, err := coldplug.Scan(root)
		if err != nil {
			return err
		}
		byAlias := map[string]int{}
		for _, d := range scan.Devices {
			i, ok := byAlias[d.Modalias]
			if !ok {
				i = len(answers)
				byAlias[d.Modalias] = i
				answers = append(answers, answer(ix, d.Modalias))
			}
			answers[i].Devices = append(answers[i].Devices, d.Path)
		}
	} else {
		for _, arg := range fs.Args() {
			answers = append(answers, answer(ix, arg))
		}
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(answers); err != nil {
			return err
		}
	} else {
		printText(stdout, answers, *explain, *useSysfs || len(answers) > 1)
	}
	if !*useSysfs {
		for _, a := range answers {
			if len(a.Modules) == 0 {
				return errNoMatch
			}
		}
	}
	return nil
}

// answer resolves one alias, grouping the per-pattern matches by module.
func answer(ix *modindex.Index, alias string) Answer {
	a := Answer{Alias: alias, Modules: []Module{}}
	matches, err := ix.Resolve(alias)
	if err != nil {
		var nf *modindex.NotFoundError
		if !errors.As(err, &nf) {
			a.Error = err.Error()
		}
		return a
	}
	pos := map[string]int{}
	for _, m := range matches {
		i, ok := pos[m.Name]
		if !ok {
			i = len(a.Modules)
			pos[m.Name] = i
			sm, err := ix.Module(m.Module)
			if err != nil {
				// A module the index refuses (a path outside the module root, a bad
				// dependency) is reported, not printed without its file.
				a.Error = err.Error()
				a.Modules = []Module{}
				return a
			}
			a.Modules = append(a.Modules, Module{Name: m.Name, Builtin: m.Builtin, Path: sm.GetPath()})
		}
		if m.Pattern != "" {
			a.Modules[i].Patterns = append(a.Modules[i].Patterns, m.Pattern)
		}
	}
	for i := range a.Modules {
		sort.Strings(a.Modules[i].Patterns)
	}
	sort.Slice(a.Modules, func(i, j int) bool { return a.Modules[i].Name < a.Modules[j].Name })
	return a
}

// printText prints answers for people. With one argument and no -explain it prints bare module
// names, one per line, like `modprobe -R`; otherwise each answer starts with its alias.
func printText(w io.Writer, answers []Answer, explain, prefix bool) {
	for _, a := range answers {
		var mods []string
		for _, m := range a.Modules {
			if m.Builtin {
				mods = append(mods, m.Name+" (built in)")
			} else {
				mods = append(mods, m.Name)
			}
		}
		switch {
		case a.Error != "":
			fmt.Fprintf(w, "%s: error: %s\n", a.Alias, a.Error)
		case !prefix && !explain && len(mods) > 0:
			fmt.Fprintln(w, strings.Join(mods, "\n"))
		case len(mods) == 0:
			fmt.Fprintf(w, "%s: (no module)\n", a.Alias)
		case explain:
			fmt.Fprintf(w, "%s:\n", a.Alias)
		default:
			fmt.Fprintf(w, "%s: %s\n", a.Alias, strings.Join(mods, ", "))
		}
		for _, d := range a.Devices {
			fmt.Fprintf(w, "    device %s\n", d)
		}
		if !explain {
			continue
		}
		for i, m := range a.Modules {
			fmt.Fprintf(w, "    %s", mods[i])
			if m.Path != "" {
				fmt.Fprintf(w, "  %s", m.Path)
			}
			fmt.Fprintln(w)
			if len(m.Patterns) == 0 {
				fmt.Fprintln(w, "        matched by its module name")
			}
			for _, p := range m.Patterns {
				fmt.Fprintf(w, "        matched by pattern %s\n", p)
			}
		}
	}
}
