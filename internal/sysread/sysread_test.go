package sysread

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 513, 4096, 100_000} {
		want := bytes.Repeat([]byte("live\n"), size/5+1)[:size]
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadFile of %d bytes = %d bytes, %v; want the file", size, len(got), err)
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "sys/module/e1000/initstate")
	_, err := ReadFile(missing)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != missing {
		t.Errorf("ReadFile(missing) = %v, want a *fs.PathError for %s matching fs.ErrNotExist", err, missing)
	}
	if _, err := ReadFile(t.TempDir()); err == nil {
		t.Errorf("ReadFile(a directory) = nil error, want one")
	}
}

func TestOpen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.ko")
	if err := os.WriteFile(p, []byte("\x7fELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	// The descriptor is the file: read it back through os (which now owns it).
	b := make([]byte, 4)
	if n, err := os.NewFile(uintptr(f.Fd()), p).Read(b); n != 4 || err != nil || string(b) != "\x7fELF" {
		t.Errorf("read through the descriptor = %q, %v", b[:n], err)
	}
	if _, err := Open(p + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
}
