package main

import "golang.org/x/sys/unix"

// uname returns the running kernel's release, as `uname -r` prints it.
func uname() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}
