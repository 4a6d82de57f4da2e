package modindex

import "golang.org/x/sys/unix"

// RunningRelease returns the running kernel's release, as `uname -r` prints it.
func RunningRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}
