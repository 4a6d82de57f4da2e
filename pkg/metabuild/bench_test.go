package metabuild

import (
	"testing"
)

// BenchmarkBuild61 indexes the full Debian 6.1 tree (4,023 plain .ko).
func BenchmarkBuild61(b *testing.B) {
	root, _ := kernelTree(b, "6.1")
	for b.Loop() {
		if _, err := Build(Options{ModuleRoot: root, ConfigDirs: []string{}}); err != nil {
			b.Fatal(err)
		}
	}
}
