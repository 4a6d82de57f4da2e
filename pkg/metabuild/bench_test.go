package metabuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/pkg/modindex"
	"github.com/kmodboot/kmodboot/spec"
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

// BenchmarkDecode decodes the meta.pb files listed (colon-separated) in $KMODBOOT_BENCH_META,
// with proto.Unmarshal into spec.Index and with modindex.Decode, the loader's reader.
// scripts/bench-build.sh sets it to the full and subset indexes it builds.
func BenchmarkDecode(b *testing.B) {
	list := os.Getenv("KMODBOOT_BENCH_META")
	if list == "" {
		b.Skip("set KMODBOOT_BENCH_META to meta.pb files (scripts/bench-build.sh does)")
	}
	for _, path := range strings.Split(list, ":") {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(path), ".pb")
		b.Run(name+"/proto.Unmarshal", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var idx spec.Index
				if err := proto.Unmarshal(data, &idx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/modindex.Decode", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := modindex.Decode(data, path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
