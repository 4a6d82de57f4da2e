//go:build !linux

package main

import "errors"

// uname cannot tell the running kernel's release off Linux; -r is required there.
func uname() (string, error) {
	return "", errors.New("not running on Linux")
}
