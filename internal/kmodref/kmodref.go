// Package kmodref runs kmod itself as a reference for kmodboot's tests and benchmarks: it
// builds the tools/kmodref C oracle (linked with the system's libkmod), asks it to resolve
// aliases, time lookups or run glibc's fnmatch, and prepares depmod'ed copies of the real
// kernel trees that scripts/fetch-kernel.sh downloads.
//
// It is test support, not part of any binary: errors carry enough context to tell a missing
// tool (ErrUnavailable, which tests turn into a skip) from a real failure.
package kmodref

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ErrUnavailable is wrapped by errors that mean "this machine cannot run the oracle" (no C
// compiler, no libkmod headers, no depmod), as opposed to a wrong answer.
var ErrUnavailable = errors.New("kmod reference unavailable")

// RepoRoot returns the root of the kmodboot source tree this package was compiled from.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build compiles tools/kmodref/kmodref.c into dir and returns the binary's path.
func Build(dir string) (string, error) {
	src := filepath.Join(RepoRoot(), "tools", "kmodref", "kmodref.c")
	cc, err := exec.LookPath("cc")
	if err != nil {
		return "", fmt.Errorf("build kmodref: no C compiler (cc) in PATH: %w", ErrUnavailable)
	}
	bin := filepath.Join(dir, "kmodref")
	cmd := exec.Command(cc, "-O2", "-Wall", "-o", bin, src, "-lkmod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("libkmod.h")) || bytes.Contains(out, []byte("-lkmod")) {
			return "", fmt.Errorf("build kmodref: libkmod headers or library missing "+
				"(apt-get install libkmod-dev): %s: %w", strings.TrimSpace(string(out)), ErrUnavailable)
		}
		return "", fmt.Errorf("build kmodref: %s %s: %v\n%s", cc, src, err, out)
	}
	return bin, nil
}

// Oracle is a built kmodref binary.
type Oracle struct {
	// Path is the kmodref executable.
	Path string
}

// Result is kmod's answer for one alias.
type Result struct {
	// Modules are the distinct module names found, sorted.
	Modules []string
	// Errno is nonzero when kmod_module_new_from_lookup failed (22, EINVAL, for an alias
	// that fails normalization).
	Errno int
}

// Resolve asks libkmod, on the depmod'ed module directory moddir, for every alias.
// Aliases must not contain '\n' or NUL.
func (o *Oracle) Resolve(moddir string, aliases []string) (map[string]Result, error) {
	var in bytes.Buffer
	for _, a := range aliases {
		if strings.ContainsAny(a, "\n\x00") {
			return nil, fmt.Errorf("kmodref resolve: alias %q contains a newline or NUL", a)
		}
		in.WriteString(a)
		in.WriteByte('\n')
	}
	cmd := exec.Command(o.Path, "resolve", moddir)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kmodref resolve %s: %v: %s", moddir, err, stderr.String())
	}
	res := make(map[string]Result, len(aliases))
	for line := range strings.SplitSeq(strings.TrimSuffix(string(out), "\n"), "\n") {
		if line == "" && len(aliases) == 0 {
			continue
		}
		alias, mods, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("kmodref resolve %s: malformed output line %q", moddir, line)
		}
		var r Result
		switch {
		case strings.HasPrefix(mods, "!"):
			r.Errno, err = strconv.Atoi(mods[1:])
			if err != nil {
				return nil, fmt.Errorf("kmodref resolve %s: malformed errno in %q", moddir, line)
			}
		case mods != "":
			r.Modules = strings.Split(mods, ",")
		}
		res[alias] = r
	}
	return res, nil
}

// BenchResult is libkmod's timing of a list of lookups. Durations are nanoseconds per
// lookup: each alias's fastest of Rounds runs, timer overhead removed.
type BenchResult struct {
	Lookups, Rounds                         int
	OverheadNs, MeanNs, P50Ns, P99Ns, MaxNs float64
	// PerAlias holds each alias's time, in input order.
	PerAlias []float64
	// Worst lists the slowest aliases, slowest first.
	Worst []Timed
}

// Timed is one alias's lookup time.
type Timed struct {
	Ns    float64
	Alias string
}

// Bench times libkmod's kmod_module_new_from_lookup on every alias, rounds times each.
func (o *Oracle) Bench(moddir string, aliases []string, rounds int) (*BenchResult, error) {
	cmd := exec.Command(o.Path, "bench", "-r", strconv.Itoa(rounds), "-w", "10", moddir)
	cmd.Stdin = strings.NewReader(strings.Join(aliases, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kmodref bench %s: %v: %s", moddir, err, stderr.String())
	}
	r := &BenchResult{}
	fields := map[string]*float64{"overhead_ns": &r.OverheadNs, "mean_ns": &r.MeanNs,
		"p50_ns": &r.P50Ns, "p99_ns": &r.P99Ns, "max_ns": &r.MaxNs}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if rest, ok := strings.CutPrefix(line, "alias_ns\t"); ok {
			ns, _, _ := strings.Cut(rest, "\t")
			v, err := strconv.ParseFloat(ns, 64)
			if err != nil {
				return nil, fmt.Errorf("kmodref bench: malformed line %q", line)
			}
			r.PerAlias = append(r.PerAlias, v)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "worst\t"); ok {
			ns, alias, _ := strings.Cut(rest, "\t")
			v, err := strconv.ParseFloat(ns, 64)
			if err != nil {
				return nil, fmt.Errorf("kmodref bench: malformed line %q", line)
			}
			r.Worst = append(r.Worst, Timed{v, alias})
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("kmodref bench: malformed line %q", line)
		}
		switch k {
		case "lookups":
			r.Lookups = int(f)
		case "rounds":
			r.Rounds = int(f)
		default:
			if p, ok := fields[k]; ok {
				*p = f
			}
		}
	}
	if len(r.PerAlias) != len(aliases) {
		return nil, fmt.Errorf("kmodref bench: got %d timings for %d aliases", len(r.PerAlias), len(aliases))
	}
	return r, nil
}

// Fnmatcher is a running "kmodref fnmatch" process answering one query at a time, for
// fuzz tests that compare against glibc's fnmatch.
type Fnmatcher struct {
	mu  sync.Mutex // mu guards the pipes: one query in flight at a time.
	cmd *exec.Cmd
	in  *bufio.Writer
	out *bufio.Reader
}

// StartFnmatch starts "kmodref fnmatch". Close it when done.
func (o *Oracle) StartFnmatch() (*Fnmatcher, error) {
	cmd := exec.Command(o.Path, "fnmatch")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s fnmatch: %w", o.Path, err)
	}
	return &Fnmatcher{cmd: cmd, in: bufio.NewWriter(stdin), out: bufio.NewReader(stdout)}, nil
}

// Match returns glibc's fnmatch(pattern, s, 0) == 0. NUL bytes end both strings, as in C.
func (f *Fnmatcher) Match(pattern, s string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(f.in, "%s %s\n", hex.EncodeToString([]byte(cstr(pattern))), hex.EncodeToString([]byte(cstr(s))))
	if err := f.in.Flush(); err != nil {
		return false, fmt.Errorf("kmodref fnmatch: write: %w", err)
	}
	line, err := f.out.ReadString('\n')
	if err != nil {
		return false, fmt.Errorf("kmodref fnmatch: read: %w", err)
	}
	return strings.TrimSpace(line) == "1", nil
}

// MatchAll answers many queries in one round trip.
func (f *Fnmatcher) MatchAll(pairs [][2]string) ([]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	errc := make(chan error, 1)
	go func() {
		for _, p := range pairs {
			fmt.Fprintf(f.in, "%s %s\n", hex.EncodeToString([]byte(cstr(p[0]))), hex.EncodeToString([]byte(cstr(p[1]))))
		}
		errc <- f.in.Flush()
	}()
	res := make([]bool, len(pairs))
	for i := range pairs {
		line, err := f.out.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("kmodref fnmatch: read answer %d: %w", i, err)
		}
		res[i] = strings.TrimSpace(line) == "1"
	}
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("kmodref fnmatch: write: %w", err)
	}
	return res, nil
}

// Close stops the process.
func (f *Fnmatcher) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmd.Stdin.(interface{ Close() error }).Close()
	return f.cmd.Wait()
}

func cstr(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// Tree is a kernel module tree on which depmod has run.
type Tree struct {
	// Series is what was asked of fetch-kernel.sh ("6.1", "6.12").
	Series string
	// Release is the kernel release, e.g. "6.1.0-27-amd64".
	Release string
	// ModDir is <root>/lib/modules/<release>, with kmod's modules.* files.
	ModDir string
}

var treeMu sync.Mutex // treeMu serializes preparing trees within one process.

// DepmodTree fetches the newest Debian kernel of a series with scripts/fetch-kernel.sh (which
// caches it) and returns a copy of its module tree on which `depmod -b` has run. The copy is
// hard-linked into ${KMODBOOT_CACHE:-~/.cache/kmodboot}/depmod-<release> and reused while its
// .complete marker exists.
func DepmodTree(series string) (*Tree, error) {
	treeMu.Lock()
	defer treeMu.Unlock()
	script := filepath.Join(RepoRoot(), "scripts", "fetch-kernel.sh")
	var stderr bytes.Buffer
	cmd := exec.Command("bash", script, series)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("fetch kernel %s with %s: %v: %s: %w", series, script, err,
			strings.TrimSpace(stderr.String()), ErrUnavailable)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	kdir := lines[len(lines)-1]
	entries, err := os.ReadDir(filepath.Join(kdir, "lib", "modules"))
	if err != nil || len(entries) != 1 {
		return nil, fmt.Errorf("kernel %s: want exactly one release under %s/lib/modules (err %v)", series, kdir, err)
	}
	release := entries[0].Name()
	if _, err := exec.LookPath("depmod"); err != nil {
		if _, err := os.Stat("/usr/sbin/depmod"); err != nil {
			return nil, fmt.Errorf("no depmod (apt-get install kmod): %w", ErrUnavailable)
		}
	}
	cache := os.Getenv("KMODBOOT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("find cache dir: %w", err)
		}
		cache = filepath.Join(home, ".cache", "kmodboot")
	}
	root := filepath.Join(cache, "depmod-"+release)
	t := &Tree{Series: series, Release: release, ModDir: filepath.Join(root, "lib", "modules", release)}
	if _, err := os.Stat(filepath.Join(root, ".complete")); err == nil {
		return t, nil
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(root, "lib", "modules"), 0o755); err != nil {
		return nil, err
	}
	src := filepath.Join(kdir, "lib", "modules", release)
	if out, err := exec.Command("cp", "-al", src, filepath.Dir(t.ModDir)).CombinedOutput(); err != nil {
		// Hard links need one file system; fall back to a real copy.
		os.RemoveAll(t.ModDir)
		if out2, err2 := exec.Command("cp", "-a", src, filepath.Dir(t.ModDir)).CombinedOutput(); err2 != nil {
			return nil, fmt.Errorf("copy %s: %v: %s / %s", src, err2, out, out2)
		}
	}
	depmod := "depmod"
	if _, err := exec.LookPath(depmod); err != nil {
		depmod = "/usr/sbin/depmod"
	}
	if out, err := exec.Command(depmod, "-b", root, release).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s -b %s %s: %v: %s", depmod, root, release, err, out)
	}
	if err := os.WriteFile(filepath.Join(root, ".complete"), nil, 0o644); err != nil {
		return nil, err
	}
	return t, nil
}

// AliasLine is one "alias PATTERN MODULE" line of modules.alias.
type AliasLine struct {
	Pattern, Module string
}

// ReadModulesAlias parses moddir/modules.alias (depmod's text output, patterns as the
// modules spell them, not normalized).
func ReadModulesAlias(moddir string) ([]AliasLine, error) {
	path := filepath.Join(moddir, "modules.alias")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res []AliasLine
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" {
			return nil, fmt.Errorf("%s:%d: want \"alias PATTERN MODULE\", got %q", path, i+1, line)
		}
		res = append(res, AliasLine{f[1], f[2]})
	}
	return res, nil
}

// ReadBuiltinAliases parses the alias= entries of moddir/modules.builtin.modinfo
// ("module.key=value" records separated by NUL bytes), in file order.
func ReadBuiltinAliases(moddir string) ([]AliasLine, error) {
	path := filepath.Join(moddir, "modules.builtin.modinfo")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res []AliasLine
	for rec := range strings.SplitSeq(string(data), "\x00") {
		name, kv, ok := strings.Cut(rec, ".")
		if !ok {
			continue
		}
		if v, ok := strings.CutPrefix(kv, "alias="); ok && v != "" {
			res = append(res, AliasLine{v, name})
		}
	}
	return res, nil
}

// ReadModuleNames returns the module names of moddir/modules.dep (loadable modules) and
// moddir/modules.builtin (built-in ones), as kmod's name lookups see them ('-' as '_').
func ReadModuleNames(moddir string) (loadable, builtin map[string]bool, err error) {
	read := func(file string, field func(string) string) (map[string]bool, error) {
		data, err := os.ReadFile(filepath.Join(moddir, file))
		if err != nil {
			return nil, err
		}
		names := map[string]bool{}
		for line := range strings.SplitSeq(string(data), "\n") {
			if p := field(line); p != "" {
				base := filepath.Base(p)
				if i := strings.Index(base, ".ko"); i >= 0 {
					base = base[:i]
				}
				names[strings.ReplaceAll(base, "-", "_")] = true
			}
		}
		return names, nil
	}
	loadable, err = read("modules.dep", func(l string) string { p, _, _ := strings.Cut(l, ":"); return p })
	if err != nil {
		return nil, nil, err
	}
	builtin, err = read("modules.builtin", func(l string) string { return strings.TrimSpace(l) })
	if err != nil {
		return nil, nil, err
	}
	return loadable, builtin, nil
}

// SortedKeys returns the keys of a set, sorted.
func SortedKeys(m map[string]bool) []string {
	res := make([]string, 0, len(m))
	for k := range m {
		res = append(res, k)
	}
	sort.Strings(res)
	return res
}
