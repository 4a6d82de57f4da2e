package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no output", nil, "no output file"},
		{"stray argument", []string{"-o", "x.cpio.zst", "extra"}, "unexpected arguments"},
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"nic", []string{"nic"}},
		{" nic, storage ,,fs ", []string{"nic", "storage", "fs"}},
	} {
		if got := split(tc.in); !cmp.Equal(got, tc.want) {
			t.Errorf("split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWarnOnly(t *testing.T) {
	var b bytes.Buffer
	w := warnOnly{&b}
	w.Write([]byte("initramfs: building busybox\ninitramfs: warning: cmds/x does not exist yet\nError: boom\n"))
	want := "initramfs: warning: cmds/x does not exist yet\nError: boom\n"
	if b.String() != want {
		t.Errorf("warnOnly passed %q, want %q", b.String(), want)
	}
}
