package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadExpect(t *testing.T) {
	p := filepath.Join(t.TempDir(), "expect")
	os.WriteFile(p, []byte("id abc123\nipv4 2\ndata kmb-data-0\ndata kmb-data-1\nsay Hello there\n\n"), 0o644)
	got, err := readExpect(p)
	if err != nil {
		t.Fatalf("readExpect: %v", err)
	}
	want := &expect{id: "abc123", ipv4: 2, data: []string{"kmb-data-0", "kmb-data-1"}, say: []string{"Hello there"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(expect{})); diff != "" {
		t.Errorf("readExpect mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"ipv4 two\n", "color blue\n"} {
		os.WriteFile(p, []byte(bad), 0o644)
		if got, err := readExpect(p); err == nil {
			t.Errorf("readExpect(%q) = %+v, nil, want an error", bad, got)
		}
	}
	if _, err := readExpect(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Errorf("readExpect(absent) = nil error")
	}
}
