package metabuild

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kmodboot/kmodboot/pkg/modalias"
)

// classPaths maps each class to the module paths it covers, relative to the tree below its
// first directory. An entry ending in '/' covers a directory and everything below it; any
// other entry is one module path without its .ko suffix. The package documentation explains
// the choices.
var classPaths = map[string][]string{
	"nic": {
		"drivers/net/ethernet/",
		"drivers/net/virtio_net",
		"drivers/net/vmxnet3/",
		"drivers/net/hyperv/",
		"drivers/net/xen-netfront",
		"drivers/net/usb/",
		"drivers/net/phy/",
		"drivers/net/mdio/",
		"drivers/net/pcs/",
	},
	"storage": {
		"drivers/block/",
		"drivers/scsi/",
		"drivers/ata/",
		"drivers/nvme/host/",
		"drivers/nvme/common/",
		"drivers/virtio/",
		"drivers/mmc/",
		"drivers/ufs/",
		"drivers/message/fusion/",
		"drivers/usb/storage/",
		"drivers/usb/host/",
		"drivers/md/",
		"drivers/cdrom/",
	},
	"fs": {
		"fs/",
	},
}

// Classes returns the names of the module classes Options.Classes accepts, sorted.
func Classes() []string {
	names := make([]string, 0, len(classPaths))
	for c := range classPaths {
		names = append(names, c)
	}
	sort.Strings(names)
	return names
}

// inClass reports whether the module at rel (relative to the module root) belongs to a class
// with the given paths.
func inClass(paths []string, rel string) bool {
	_, rest, ok := strings.Cut(rel, "/")
	if !ok {
		return false
	}
	stem := orderKey(rest)
	stem = strings.TrimSuffix(stem, ".ko")
	for _, p := range paths {
		if strings.HasSuffix(p, "/") {
			if strings.HasPrefix(rest, p) {
				return true
			}
		} else if stem == p {
			return true
		}
	}
	return false
}

// hasMeta reports whether s contains an fnmatch wildcard.
func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// indexAliases groups b.entries by the first byte of their pattern so that resolve scans only
// candidates.
func (b *builder) indexAliases() {
	b.byFirst = make(map[byte][]int)
	b.wild = nil
	for i, e := range b.entries {
		if e.Pattern == "" || hasMeta(e.Pattern[:1]) {
			b.wild = append(b.wild, i)
			continue
		}
		b.byFirst[e.Pattern[0]] = append(b.byFirst[e.Pattern[0]], i)
	}
}

// resolve returns the modules a modprobe argument names, the way kmod looks it up: the module
// of that exact name, else every module (loadable or built in) with an alias matching it.
// name must be normalized.
func (b *builder) resolve(name string) []int {
	if i, ok := b.byName[name]; ok {
		return []int{i}
	}
	if name == "" {
		return nil
	}
	if b.byFirst == nil {
		b.indexAliases()
	}
	var hits []int
	check := func(list []int) {
		for _, k := range list {
			e := b.entries[k]
			if modalias.MatchAlias(e.Pattern, name) && !containsInt(hits, int(e.Module)) {
				hits = append(hits, int(e.Module))
			}
		}
	}
	check(b.byFirst[name[0]])
	check(b.wild)
	sort.Ints(hits)
	return hits
}

// selectModules returns which modules to index and the selection record. Without Classes and
// Names every module is kept. It also counts unresolvable softdeps of the kept modules.
func (b *builder) selectModules() (keep []bool, selection []string, err error) {
	keep = make([]bool, len(b.mods))
	var seeds []int
	full := len(b.opts.Classes) == 0 && len(b.opts.Names) == 0
	if full {
		for i := range b.mods {
			seeds = append(seeds, i)
		}
	}
	for _, c := range b.opts.Classes {
		paths, ok := classPaths[c]
		if !ok {
			return nil, nil, fmt.Errorf("unknown module class %q; known classes are %s",
				c, strings.Join(Classes(), ", "))
		}
		selection = append(selection, "class:"+c)
		n := 0
		for i, m := range b.mods {
			if !m.builtin && inClass(paths, m.path) {
				seeds = append(seeds, i)
				n++
			}
		}
		if n == 0 {
			b.logf("class %s matches no module in %s", c, b.root)
		}
	}
	for _, name := range b.opts.Names {
		selection = append(selection, "name:"+name)
		pat, err := modalias.Normalize(name)
		if err != nil {
			return nil, nil, fmt.Errorf("module name or pattern %q: %w", name, err)
		}
		if hasMeta(pat) {
			n := 0
			for i, m := range b.mods {
				if modalias.Fnmatch(pat, m.name) {
					seeds = append(seeds, i)
					n++
				}
			}
			if n == 0 {
				b.logf("pattern %q matches no module in %s", name, b.root)
			}
			continue
		}
		hits := b.resolve(pat)
		if len(hits) == 0 {
			return nil, nil, fmt.Errorf("no module or alias %q in %s; check the name with `modinfo %s` on a system running that kernel",
				name, b.root, name)
		}
		seeds = append(seeds, hits...)
	}

	// Close over hard dependencies and softdeps.
	queue := seeds
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		if keep[i] {
			continue
		}
		keep[i] = true
		m := b.mods[i]
		queue = append(queue, m.deps...)
		for _, list := range [][]string{m.pre, m.post} {
			for _, s := range list {
				norm, err := modalias.Normalize(s)
				var hits []int
				if err == nil {
					hits = b.resolve(norm)
				}
				if len(hits) == 0 {
					b.stats.UnresolvedSoftdeps++
					b.debugf("module %s: softdep %q names no module or alias in the tree", m.name, s)
				}
				queue = append(queue, hits...)
			}
		}
	}
	// Built-in modules are always kept: they cost a few bytes and answer "built in".
	for i, m := range b.mods {
		if m.builtin {
			keep[i] = true
		}
	}
	return keep, selection, nil
}
