//go:build !linux

package modindex

import "errors"

// RunningRelease fails off Linux: there is no running Linux kernel to ask.
func RunningRelease() (string, error) {
	return "", errors.New("not running on Linux: name the kernel release")
}
