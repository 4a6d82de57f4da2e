//go:build !unix

package sysread

import (
	"errors"
	"io/fs"
	"os"
)

// ReadFile returns the contents of path.
func ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// File is a descriptor opened by Open; there are none on this system.
type File int

// Open fails: module files are opened for finit_module, which only Linux has.
func Open(path string) (File, error) {
	return -1, &fs.PathError{Op: "open", Path: path, Err: errors.ErrUnsupported}
}

// Fd returns the descriptor.
func (f File) Fd() int { return int(f) }

// Close does nothing.
func (f File) Close() error { return nil }
