package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds symlink resolution like the kernel's 40-link limit.
const maxSymlinks = 40

// resolveInRoot resolves p the way it will resolve once root is "/": every symlink on the way,
// in the directories too (Debian's /sbin -> usr/sbin), is followed inside root, and absolute
// targets restart at root instead of at the initramfs's "/". It returns the resolved path as
// seen from inside root.
func resolveInRoot(root, p string) (string, error) {
	parts := strings.Split(path.Clean("/"+p), "/")
	cur, hops := "/", 0
	for len(parts) > 0 {
		c := parts[0]
		parts = parts[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > maxSymlinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		t, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(t) {
			cur = "/"
		}
		parts = append(strings.Split(t, "/"), parts...)
	}
	return cur, nil
}

// statInRoot stats p inside root, resolving symlinks as resolveInRoot does.
func statInRoot(root, p string) (os.FileInfo, error) {
	r, err := resolveInRoot(root, p)
	if err != nil {
		return nil, err
	}
	return os.Stat(filepath.Join(root, r))
}
