package kmodtest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/pkg/metabuild"
	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/spec"
)

// Module describes one module of a fake tree.
type Module struct {
	// Name is the module name ('-' or '_').
	Name string
	// Depends names the module's hard dependencies.
	Depends []string
	// Aliases are alias patterns (fnmatch) that resolve to the module.
	Aliases []string
	// SoftdepPre and SoftdepPost are softdep names or aliases.
	SoftdepPre, SoftdepPost []string
	// Builtin makes the module built in: no file.
	Builtin bool
	// Compression is "", "xz", "zstd" or "gzip": the file is <name>.ko[.xz|.zst|.gz].
	Compression string
	// Corrupt writes a file that is not a module (the kernel says ENOEXEC).
	Corrupt bool
	// Missing writes no file at all.
	Missing bool
}

var exts = map[string]string{"": ".ko", "xz": ".ko.xz", "zstd": ".ko.zst", "gzip": ".ko.gz"}

// Image returns the content of a fake module file (uncompressed) for name and its dependencies.
func Image(name string, deps ...string) []byte {
	return []byte(Magic + "name=" + norm(name) + "\ndepends=" + strings.Join(deps, ",") + "\n")
}

func norm(s string) string { return strings.ReplaceAll(s, "-", "_") }

// WriteTree writes a fake module tree for release under root: module files under
// <root>/lib/modules/<release>/kernel/ and its meta.pb, whose path it returns.
func WriteTree(root, release string, mods []Module) (string, error) {
	dir := filepath.Join(root, "lib/modules", release)
	if err := os.MkdirAll(filepath.Join(dir, "kernel"), 0o755); err != nil {
		return "", err
	}
	sorted := append([]Module(nil), mods...)
	sort.Slice(sorted, func(i, j int) bool { return norm(sorted[i].Name) < norm(sorted[j].Name) })
	index := map[string]uint32{}
	for i, m := range sorted {
		index[norm(m.Name)] = uint32(i)
	}
	ix := &spec.Index{FormatVersion: spec.FormatVersion, KernelRelease: release}
	var entries []modalias.Entry
	for i, m := range sorted {
		sm := &spec.Module{Name: norm(m.Name), Builtin: m.Builtin, SoftdepPre: m.SoftdepPre, SoftdepPost: m.SoftdepPost}
		for _, d := range m.Depends {
			di, ok := index[norm(d)]
			if !ok {
				return "", fmt.Errorf("kmodtest: module %s depends on unknown module %s", m.Name, d)
			}
			sm.Depends = append(sm.Depends, di)
		}
		for _, a := range m.Aliases {
			p, err := modalias.Normalize(a)
			if err != nil {
				return "", fmt.Errorf("kmodtest: module %s: alias %q: %w", m.Name, a, err)
			}
			entries = append(entries, modalias.Entry{Pattern: p, Module: uint32(i), Builtin: m.Builtin})
		}
		if !m.Builtin {
			ext, ok := exts[m.Compression]
			if !ok {
				return "", fmt.Errorf("kmodtest: module %s: unknown compression %q", m.Name, m.Compression)
			}
			sm.Path = "kernel/" + m.Name + ext
			if !m.Missing {
				data := Image(m.Name, normAll(m.Depends)...)
				if m.Corrupt {
					data = []byte("this is not a module\n")
				}
				data, err := compress(data, m.Compression)
				if err != nil {
					return "", err
				}
				if err := os.WriteFile(filepath.Join(dir, sm.Path), data, 0o644); err != nil {
					return "", err
				}
				sm.Size = uint64(len(data))
			}
		}
		ix.Modules = append(ix.Modules, sm)
	}
	mt, err := metabuild.BuildMatchTable(entries)
	if err != nil {
		return "", fmt.Errorf("kmodtest: build match table: %w", err)
	}
	ix.Match = mt
	data, err := proto.Marshal(ix)
	if err != nil {
		return "", err
	}
	meta := filepath.Join(dir, "meta.pb")
	return meta, os.WriteFile(meta, data, 0o644)
}

func normAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = norm(n)
	}
	return out
}

// compress compresses data the way module files are ("" returns data).
func compress(data []byte, kind string) ([]byte, error) {
	var b bytes.Buffer
	switch kind {
	case "":
		return data, nil
	case "xz":
		w, err := xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&b)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case "zstd":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case "gzip":
		w := gzip.NewWriter(&b)
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("kmodtest: unknown compression %q", kind)
	}
	return b.Bytes(), nil
}
