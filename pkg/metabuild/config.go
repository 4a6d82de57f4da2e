package metabuild

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/pkg/modinfo"
)

// DefaultConfigDirs returns the modprobe.d-style directories Build reads softdep lines from
// when Options.ConfigDirs is nil: moduleRoot/modprobe.d, then, if moduleRoot is
// <sys>/lib/modules/<release> or <sys>/usr/lib/modules/<release>, kmod's configuration
// directories under <sys> in kmod's order of precedence.
func DefaultConfigDirs(moduleRoot string) []string {
	dirs := []string{filepath.Join(moduleRoot, "modprobe.d")}
	parent := filepath.Dir(filepath.Clean(moduleRoot)) // .../lib/modules
	if filepath.Base(parent) != "modules" {
		return dirs
	}
	lib := filepath.Dir(parent)
	if filepath.Base(lib) != "lib" {
		return dirs
	}
	sys := filepath.Dir(lib)
	if filepath.Base(sys) == "usr" {
		sys = filepath.Dir(sys)
	}
	for _, d := range []string{"etc", "run", "usr/local/lib", "usr/lib", "lib"} {
		dirs = append(dirs, filepath.Join(sys, d, "modprobe.d"))
	}
	return dirs
}

// configSoftdep is one "softdep" line of a configuration file.
type configSoftdep struct {
	pattern   string // module name or fnmatch pattern, normalized
	pre, post []string
	where     string // file:line, for messages
}

// matches reports whether the line applies to module name.
func (c *configSoftdep) matches(name string) bool {
	return c.pattern == name || modalias.Fnmatch(c.pattern, name)
}

// configFiles lists the *.conf files of dirs the way kmod does: sorted by file name, and a
// name found in an earlier directory hides the same name in later ones. Missing directories
// are skipped.
func configFiles(dirs []string) ([]string, error) {
	byName := make(map[string]string)
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read configuration directory: %w", err)
		}
		for _, e := range ents {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".conf") || e.IsDir() {
				continue
			}
			if _, hidden := byName[name]; !hidden {
				byName[name] = filepath.Join(dir, name)
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	files := make([]string, len(names))
	for i, n := range names {
		files[i] = byName[n]
	}
	return files, nil
}

// readConfigSoftdeps returns the softdep lines of the configuration files in dirs and the
// files it read. Other commands (alias, options, blacklist, install, ...) are ignored: the
// index only carries softdeps.
func readConfigSoftdeps(dirs []string, logf func(string, ...any)) ([]configSoftdep, []string, error) {
	files, err := configFiles(dirs)
	if err != nil {
		return nil, nil, err
	}
	var out []configSoftdep
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, fmt.Errorf("read configuration: %w", err)
		}
		out = append(out, parseConfigSoftdeps(file, string(data), logf)...)
	}
	return out, files, nil
}

// parseConfigSoftdeps extracts the softdep lines of one modprobe.d file. Lines ending in a
// backslash continue on the next line; lines starting with '#' are comments.
func parseConfigSoftdeps(file, text string, logf func(string, ...any)) []configSoftdep {
	var out []configSoftdep
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := lines[i]
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + " " + lines[i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") || fields[0] != "softdep" {
			continue
		}
		where := fmt.Sprintf("%s:%d", file, lineNo)
		if len(fields) < 3 {
			logf("%s: ignoring softdep line without module and dependencies", where)
			continue
		}
		pattern, err := modalias.Normalize(fields[1])
		if err != nil {
			logf("%s: ignoring softdep for %q: %v", where, fields[1], err)
			continue
		}
		pre, post := modinfo.ParseSoftdep(strings.Join(fields[2:], " "))
		out = append(out, configSoftdep{pattern: pattern, pre: pre, post: post, where: where})
	}
	return out
}
