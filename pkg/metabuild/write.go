package metabuild

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/spec"
)

// MetaName is the file name of the index inside a module tree.
const MetaName = "meta.pb"

// Marshal encodes idx deterministically: the same index always gives the same bytes.
func Marshal(idx *spec.Index) ([]byte, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("encode meta.pb: %w", err)
	}
	return data, nil
}

// WriteFile writes idx to path atomically (a temporary file in the same directory, renamed
// over path) and returns the number of bytes written.
func WriteFile(path string, idx *spec.Index) (int, error) {
	data, err := Marshal(idx)
	if err != nil {
		return 0, err
	}
	if err := writeAtomic(path, data, 0o644); err != nil {
		return 0, err
	}
	return len(data), nil
}

func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Stage copies what an initramfs needs of the tree at moduleRoot into stageDir: the module
// files of idx at <stageDir>/lib/modules/<release>/<path>, modules.builtin and
// modules.builtin.modinfo as they are, modules.order restricted to the staged modules, and
// meta.pb. It returns the path of the meta.pb written. Paths in idx are checked again so a
// forged index cannot write outside stageDir.
func Stage(idx *spec.Index, moduleRoot, stageDir string) (string, error) {
	rel := idx.GetKernelRelease()
	if rel == "" || strings.ContainsAny(rel, "/\x00") || rel == "." || rel == ".." {
		return "", fmt.Errorf("stage: kernel release %q cannot be a directory name", rel)
	}
	dst := filepath.Join(stageDir, "lib", "modules", rel)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", fmt.Errorf("stage: %w", err)
	}
	staged := make(map[string]bool)
	for _, m := range idx.GetModules() {
		if m.GetBuiltin() {
			continue
		}
		p := m.GetPath()
		if err := checkRel(p); err != nil {
			return "", fmt.Errorf("stage module %s: %w", m.GetName(), err)
		}
		src := filepath.Join(moduleRoot, filepath.FromSlash(p))
		to := filepath.Join(dst, filepath.FromSlash(p))
		if err := copyFile(src, to); err != nil {
			return "", fmt.Errorf("stage module %s: %w", m.GetName(), err)
		}
		staged[orderKey(p)] = true
	}
	for _, name := range []string{"modules.builtin", "modules.builtin.modinfo"} {
		err := copyFile(filepath.Join(moduleRoot, name), filepath.Join(dst, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("stage: %w", err)
		}
	}
	if err := stageOrder(moduleRoot, dst, staged); err != nil {
		return "", fmt.Errorf("stage: %w", err)
	}
	meta := filepath.Join(dst, MetaName)
	if _, err := WriteFile(meta, idx); err != nil {
		return "", fmt.Errorf("stage: %w", err)
	}
	return meta, nil
}

// stageOrder writes modules.order with only the lines naming staged modules.
func stageOrder(moduleRoot, dst string, staged map[string]bool) error {
	data, err := os.ReadFile(filepath.Join(moduleRoot, "modules.order"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && staged[orderKey(line)] {
			out.WriteString(line)
			out.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read modules.order: %w", err)
	}
	return writeAtomic(filepath.Join(dst, "modules.order"), out.Bytes(), 0o644)
}

// copyFile copies the regular file src to dst, creating dst's directory.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return out.Close()
}
