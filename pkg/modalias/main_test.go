package modalias

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/kmodboot/kmodboot/internal/kmodref"
)

// oracleDir holds the kmodref binary built for this test process.
var oracleDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "modalias-test-")
	if err != nil {
		panic(err)
	}
	oracleDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	oracleOnce sync.Once
	oracle     *kmodref.Oracle
	oracleErr  error
)

// kmodOracle returns the libkmod/glibc reference oracle, or skips the test when this machine
// cannot build it (no cc, no libkmod-dev). CI installs both, so there it always runs.
func kmodOracle(t testing.TB) *kmodref.Oracle {
	t.Helper()
	buildOracle()
	if errors.Is(oracleErr, kmodref.ErrUnavailable) {
		t.Skipf("kmod reference oracle unavailable: %v", oracleErr)
	}
	if oracleErr != nil {
		t.Fatalf("build kmod reference oracle: %v", oracleErr)
	}
	return oracle
}

// buildOracle builds kmodref once per test process.
func buildOracle() {
	oracleOnce.Do(func() {
		var path string
		path, oracleErr = kmodref.Build(oracleDir)
		oracle = &kmodref.Oracle{Path: path}
	})
}

var (
	fnmatcherOnce sync.Once
	fnmatcher     *kmodref.Fnmatcher
)

// glibcFnmatch returns a running glibc fnmatch oracle, or nil when unavailable. It lives
// for the whole test process (fuzz workers query it for every input).
func glibcFnmatch(t testing.TB) *kmodref.Fnmatcher {
	t.Helper()
	fnmatcherOnce.Do(func() {
		buildOracle()
		if oracleErr != nil {
			return
		}
		fnmatcher, _ = oracle.StartFnmatch()
	})
	return fnmatcher
}
