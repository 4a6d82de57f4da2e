//go:build !linux

package main

import "errors"

func uname() (string, error) { return "", errors.New("not Linux: pass -S RELEASE") }
