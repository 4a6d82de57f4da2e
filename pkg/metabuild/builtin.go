package metabuild

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodboot/kmodboot/pkg/modinfo"
)

// readBuiltins returns the built-in modules of the tree at root, by name (see the package
// documentation for which names count), and which of them modules.builtin lists. Both files
// are optional.
func readBuiltins(root string) (map[string]*modinfo.Info, map[string]bool, error) {
	names := make(map[string]bool)
	data, err := os.ReadFile(filepath.Join(root, "modules.builtin"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("read modules.builtin: %w", err)
	default:
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				names[modinfo.ModuleName(line)] = true
			}
		}
	}

	infos := make(map[string]*modinfo.Info)
	data, err = os.ReadFile(filepath.Join(root, "modules.builtin.modinfo"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("read modules.builtin.modinfo: %w", err)
	default:
		parsed, err := modinfo.ParseBuiltin(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", filepath.Join(root, "modules.builtin.modinfo"), err)
		}
		for name, info := range parsed {
			if names[name] || len(info.Aliases) > 0 {
				infos[name] = info
			}
		}
	}
	for name := range names {
		if infos[name] == nil {
			infos[name] = &modinfo.Info{Name: name}
		}
	}
	return infos, names, nil
}
