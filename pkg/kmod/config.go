package kmod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/pkg/modindex"
)

// ConfigDirs are the modprobe.d directories, in kmod's order of precedence: a file in an earlier
// directory hides a file of the same name in a later one.
var ConfigDirs = []string{
	"/etc/modprobe.d",
	"/run/modprobe.d",
	"/usr/local/lib/modprobe.d",
	"/lib/modprobe.d",
	"/usr/lib/modprobe.d",
}

// Config is the modprobe.d configuration and the module settings of the kernel command line.
// It is read once and then only read from, so it is safe for concurrent use.
type Config struct {
	// Files lists the configuration files read, in the order they were read.
	Files []string
	// Warnings lists lines that were ignored and why, each naming its file and line.
	Warnings []string

	aliases   []configAlias
	blacklist map[string]string // normalized name -> where it was blacklisted
	options   []configOption
	softdeps  []configSoftdep
	install   []configCommand
	remove    []configCommand
}

type configAlias struct {
	pattern, module, source string
}

type configOption struct {
	module, options, source string
}

type configSoftdep struct {
	pattern   string
	pre, post []string
	source    string
}

type configCommand struct {
	pattern, command, source string
}

// LoadConfig reads the modprobe.d directories and <root>/proc/cmdline under root ("" means
// "/"). Missing directories and a missing /proc/cmdline are not errors; an unreadable file is.
func LoadConfig(root string) (*Config, error) {
	c := &Config{}
	seen := map[string]bool{}
	type file struct{ name, path string }
	var files []file
	for _, dir := range ConfigDirs {
		full := filepath.Join(rootDir(root), dir)
		ents, err := os.ReadDir(full)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			return nil, fmt.Errorf("read modprobe configuration directory %s: %w", full, err)
		}
		for _, e := range ents {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".conf") && len(name) > len(".conf")) {
				continue
			}
			if seen[name] {
				continue // hidden by a file of the same name in a directory of higher precedence
			}
			p := filepath.Join(full, name)
			st, err := os.Stat(p)
			if err != nil || st.IsDir() {
				continue
			}
			seen[name] = true
			files = append(files, file{name, p})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("read modprobe configuration: %w", err)
		}
		c.Files = append(c.Files, f.path)
		c.Parse(data, f.path)
	}
	cmdline := filepath.Join(rootDir(root), "proc/cmdline")
	data, err := os.ReadFile(cmdline)
	switch {
	case err == nil:
		c.ParseCmdline(string(data), cmdline)
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("read kernel command line: %w", err)
	}
	return c, nil
}

// Parse adds the lines of one modprobe.d file to c; source names the file in warnings. Lines
// ending in a backslash continue on the next line; lines starting with '#' are comments.
// Unknown commands and malformed lines are skipped with a warning, as modprobe does.
func (c *Config) Parse(data []byte, source string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	lineno := 0
	var pending strings.Builder
	startLine := 0
	for sc.Scan() {
		lineno++
		line := sc.Text()
		if pending.Len() == 0 {
			startLine = lineno
		}
		if strings.HasSuffix(line, "\\") {
			pending.WriteString(line[:len(line)-1])
			continue
		}
		pending.WriteString(line)
		c.parseLine(pending.String(), fmt.Sprintf("%s:%d", source, startLine))
		pending.Reset()
	}
	if pending.Len() > 0 {
		c.parseLine(pending.String(), fmt.Sprintf("%s:%d", source, startLine))
	}
	if err := sc.Err(); err != nil {
		c.warn("%s: %v; the rest of the file is ignored", source, err)
	}
}

func (c *Config) warn(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

// fields splits s at spaces and tabs, returning at most n fields; the last holds the rest of
// the line with its leading blanks removed.
func fields(s string, n int) []string {
	var out []string
	for len(out) < n-1 {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	s = strings.Trim(s, " \t")
	if s != "" {
		out = append(out, s)
	}
	return out
}

func (c *Config) parseLine(line, source string) {
	if t := strings.TrimLeft(line, " \t"); t == "" || t[0] == '#' {
		return
	}
	f := fields(line, 3)
	cmd := f[0]
	bad := func(why string) { c.warn("%s: ignoring %q line: %s", source, cmd, why) }
	switch cmd {
	case "alias":
		f = fields(line, 4)
		if len(f) < 3 {
			bad("want: alias PATTERN MODULE")
			return
		}
		pattern, err := modalias.Normalize(f[1])
		if err != nil {
			bad(err.Error())
			return
		}
		c.aliases = append(c.aliases, configAlias{pattern, modindex.NormalizeName(f[2]), source})
	case "blacklist":
		if len(f) < 2 {
			bad("want: blacklist MODULE")
			return
		}
		c.addBlacklist(f[1], source)
	case "options":
		if len(f) < 3 {
			bad("want: options MODULE PARAM=VALUE...")
			return
		}
		c.options = append(c.options, configOption{modindex.NormalizeName(f[1]), squeezeBlanks(f[2]), source})
	case "softdep":
		if len(f) < 3 {
			bad("want: softdep MODULE pre: MODULE... post: MODULE...")
			return
		}
		sd := configSoftdep{pattern: underscores(f[1]), source: source}
		var mode int // 0 none, 1 pre, 2 post
		for _, w := range strings.Fields(f[2]) {
			switch w {
			case "pre:":
				mode = 1
			case "post:":
				mode = 2
			default:
				switch mode {
				case 1:
					sd.pre = append(sd.pre, w)
				case 2:
					sd.post = append(sd.post, w)
				}
			}
		}
		c.softdeps = append(c.softdeps, sd)
	case "install", "remove":
		if len(f) < 3 {
			bad("want: " + cmd + " MODULE COMMAND")
			return
		}
		cc := configCommand{underscores(f[1]), f[2], source}
		if cmd == "install" {
			c.install = append(c.install, cc)
		} else {
			c.remove = append(c.remove, cc)
		}
	case "include", "config":
		c.warn("%s: command %s is deprecated and not supported", source, cmd)
	default:
		c.warn("%s: ignoring line starting with unknown command %q", source, cmd)
	}
}

// underscores normalizes a module name or pattern like kmod: '-' becomes '_' outside [...].
func underscores(s string) string {
	if n, err := modalias.Normalize(s); err == nil {
		return n
	}
	return modindex.NormalizeName(s)
}

func (c *Config) addBlacklist(name, source string) {
	if name == "" {
		return
	}
	if c.blacklist == nil {
		c.blacklist = map[string]string{}
	}
	n := modindex.NormalizeName(name)
	if _, ok := c.blacklist[n]; !ok {
		c.blacklist[n] = source
	}
}

// Blacklisted reports whether module name is blacklisted, and where.
func (c *Config) Blacklisted(name string) (source string, ok bool) {
	if c == nil {
		return "", false
	}
	source, ok = c.blacklist[modindex.NormalizeName(name)]
	return source, ok
}

// Alias returns the modules that modprobe.d "alias" lines give for a normalized name or alias:
// every line whose pattern matches, in file order. libkmod consults these before the index.
func (c *Config) Alias(normalized string) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, a := range c.aliases {
		if modalias.Fnmatch(a.pattern, normalized) {
			out = append(out, a.module)
		}
	}
	return out
}

// Options returns the parameters for module, joined with spaces in the order they were read
// (files first, then the kernel command line): "options" lines naming the module, or naming the
// alias it was found through (alias "" matches nothing).
func (c *Config) Options(module, alias string) string {
	if c == nil {
		return ""
	}
	var parts []string
	for _, o := range c.options {
		if o.module == module || (alias != "" && o.module == alias) {
			parts = append(parts, o.options)
		}
	}
	return strings.Join(parts, " ")
}

// Softdeps returns the softdep of the first "softdep" line whose pattern matches module, and
// whether there was one; such a line replaces the index's softdeps for that module.
func (c *Config) Softdeps(module string) (pre, post []string, ok bool) {
	if c == nil {
		return nil, nil, false
	}
	for _, s := range c.softdeps {
		if modalias.Fnmatch(s.pattern, module) {
			return s.pre, s.post, true
		}
	}
	return nil, nil, false
}

// Install returns the first "install" command whose pattern matches module.
func (c *Config) Install(module string) (command, source string, ok bool) {
	return c.command(c.install, module)
}

// Remove returns the first "remove" command whose pattern matches module.
func (c *Config) Remove(module string) (command, source string, ok bool) {
	return c.command(c.remove, module)
}

func (c *Config) command(list []configCommand, module string) (string, string, bool) {
	if c == nil {
		return "", "", false
	}
	for _, cc := range list {
		if modalias.Fnmatch(cc.pattern, module) {
			return cc.command, cc.source, true
		}
	}
	return "", "", false
}

// rootDir returns root, or "/" when it is empty.
func rootDir(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

// squeezeBlanks turns each run of blanks outside double quotes into one space, so options
// joined from continued lines read as modprobe prints them.
func squeezeBlanks(s string) string {
	var b strings.Builder
	quoted, blank := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !quoted && (c == ' ' || c == '\t') {
			blank = true
			continue
		}
		if blank && b.Len() > 0 {
			b.WriteByte(' ')
		}
		blank = false
		if c == '"' {
			quoted = !quoted
		}
		b.WriteByte(c)
	}
	return b.String()
}
