package metabuild

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kmodboot/kmodboot/pkg/modinfo"
)

// moduleFile is one module file found in the tree.
type moduleFile struct {
	rel   string // slash-separated path relative to the module root
	name  string // module name derived from the file name
	order int    // position in modules.order, or -1
}

// findModules walks root and returns every module file, keyed by nothing yet (duplicates
// included), in lexical path order.
func findModules(root, realRoot string, logf func(string, ...any)) ([]moduleFile, error) {
	var files []moduleFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk module tree: %w", err)
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "build" || name == "source") {
				return filepath.SkipDir
			}
			return nil
		}
		if !modinfo.IsModuleFile(name) {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("module %s: %w", p, err)
		}
		rel = filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return fmt.Errorf("module %s: resolve symbolic link: %w", p, err)
			}
			if !within(realRoot, target) {
				return fmt.Errorf("module %s is a symbolic link to %s, outside the module root %s: "+
					"copy the file into the tree or remove the link", p, target, root)
			}
			st, err := os.Stat(target)
			if err != nil {
				return fmt.Errorf("module %s: %w", p, err)
			}
			if st.IsDir() {
				logf("skipping %s: a symbolic link to a directory (%s) is not followed", p, target)
				return nil
			}
		case !t.IsRegular():
			logf("skipping %s: not a regular file (%v)", p, t)
			return nil
		}
		if err := checkRel(rel); err != nil {
			return fmt.Errorf("module %s: %w", p, err)
		}
		files = append(files, moduleFile{rel: rel, name: modinfo.ModuleName(name), order: -1})
		return nil
	})
	return files, err
}

// within reports whether the cleaned absolute path p is dir or below it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// checkRel refuses a module path that is absolute or climbs out of the root, which meta.pb
// readers refuse as well.
func checkRel(rel string) error {
	if rel == "" || path.IsAbs(rel) || strings.HasPrefix(rel, "/") {
		return fmt.Errorf("module path %q is not relative to the module root", rel)
	}
	for _, part := range strings.Split(rel, "/") {
		if part == ".." || part == "." || part == "" {
			return fmt.Errorf("module path %q escapes or is not clean under the module root", rel)
		}
	}
	return nil
}

// orderKey is the key modules.order and module files are matched by: the path without any
// compression suffix (6.12's modules.order says "x.ko" for the installed "x.ko.xz").
func orderKey(rel string) string {
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		if strings.HasSuffix(rel, ".ko"+ext) {
			return strings.TrimSuffix(rel, ext)
		}
	}
	return rel
}

// readOrder reads modules.order into a map from orderKey to line number. A missing file is
// not an error: the tree may have been assembled by hand.
func readOrder(root string, logf func(string, ...any)) (map[string]int, error) {
	data, err := os.ReadFile(filepath.Join(root, "modules.order"))
	if errors.Is(err, fs.ErrNotExist) {
		logf("%s has no modules.order; duplicate modules are resolved by path", root)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read modules.order: %w", err)
	}
	order := make(map[string]int)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 0; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if checkRel(line) != nil {
			logf("modules.order line %d: ignoring %q, which is not a path inside the tree", n+1, line)
			continue
		}
		key := orderKey(line)
		if _, dup := order[key]; !dup {
			order[key] = n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.order: %w", err)
	}
	return order, nil
}

// priority is depmod's search priority of a module path without depmod.d configuration:
// updates/ first, everything else after.
func priority(rel string) int {
	if strings.HasPrefix(rel, "updates/") {
		return 1
	}
	return 0
}

// better reports whether module file a takes precedence over b (see the package
// documentation, "Duplicate module names").
func better(a, b moduleFile) bool {
	if pa, pb := priority(a.rel), priority(b.rel); pa != pb {
		return pa > pb
	}
	switch {
	case a.order >= 0 && b.order >= 0 && a.order != b.order:
		return a.order < b.order
	case a.order >= 0 && b.order < 0:
		return true
	case a.order < 0 && b.order >= 0:
		return false
	}
	return a.rel < b.rel
}

// pickModules assigns modules.order positions and keeps one file per module name. It
// returns the winners sorted by name and the losers.
func pickModules(files []moduleFile, order map[string]int) (winners, losers []moduleFile) {
	byName := make(map[string]int, len(files))
	for _, f := range files {
		if pos, ok := order[orderKey(f.rel)]; ok {
			f.order = pos
		}
		i, seen := byName[f.name]
		if !seen {
			byName[f.name] = len(winners)
			winners = append(winners, f)
			continue
		}
		if better(f, winners[i]) {
			losers = append(losers, winners[i])
			winners[i] = f
		} else {
			losers = append(losers, f)
		}
	}
	sort.Slice(winners, func(i, j int) bool { return winners[i].name < winners[j].name })
	return winners, losers
}
