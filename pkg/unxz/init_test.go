package unxz

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// TestNoInitWork: a binary importing unxz runs no init work of unxz's, and none of packages
// with costly inits (crypto/*, math/big).
func TestNoInitWork(t *testing.T) {
	dectest.NoInitWork(t, dectest.Probe{
		Import:  "github.com/kmodboot/kmodboot/pkg/unxz",
		Input:   filepath.Join("testdata", "check-crc32.xz"),
		WantLen: 2048,
		Forbidden: func(pkg string) bool {
			return strings.HasPrefix(pkg, "crypto/") || pkg == "math/big"
		},
	})
}
