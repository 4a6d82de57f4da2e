package ungzip

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// TestNoInitWork: ungzip links none of the packages it exists to avoid (compress/*,
// hash/crc32) nor ones with costly inits (crypto/*, math/big), and a binary importing it runs
// no init work of its.
func TestNoInitWork(t *testing.T) {
	dectest.NoInitWork(t, dectest.Probe{
		Import:  "github.com/kmodboot/kmodboot/pkg/ungzip",
		Input:   filepath.Join("testdata", "words-1.gz"),
		WantLen: 12988,
		Forbidden: func(pkg string) bool {
			return strings.HasPrefix(pkg, "compress/") || pkg == "hash/crc32" ||
				strings.HasPrefix(pkg, "crypto/") || pkg == "math/big"
		},
	})
}
