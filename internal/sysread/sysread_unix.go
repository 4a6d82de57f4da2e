//go:build unix

package sysread

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// MaxSize bounds what ReadFile reads: kernel text files are far smaller.
const MaxSize = 4 << 20

// ReadFile returns the contents of path. Errors are *fs.PathError, so errors.Is(err,
// fs.ErrNotExist) works as with os.ReadFile.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= MaxSize {
				return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("more than %d bytes", MaxSize)}
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(int(f), buf[len(buf):cap(buf)])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// File is a descriptor opened read-only by Open.
type File int

// Open opens path read-only (close-on-exec) without the poller.
func Open(path string) (File, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return File(fd), nil
	}
}

// Fd returns the descriptor.
func (f File) Fd() int { return int(f) }

// Close closes the descriptor.
func (f File) Close() error { return unix.Close(int(f)) }
