package modalias

import (
	"testing"

	"github.com/kmodboot/kmodboot/internal/aliascorpus"
	"google.golang.org/protobuf/proto"

	"github.com/kmodboot/kmodboot/spec"
)

// benchCorpus is one matching string per real 6.1 pattern plus near misses, normalized.
func benchCorpus(b testing.TB) (*Table, []string) {
	ra := loadRealAliases(b)
	tab := mustTable(b, ra.entries)
	var corpus []string
	for _, s := range aliascorpus.Generate(ra.lines, aliascorpus.Options{Seed: 1, Matches: 1, NearMisses: true}) {
		if n, err := Normalize(s); err == nil {
			corpus = append(corpus, n)
		}
	}
	return tab, corpus
}

// BenchmarkLookup reports the mean time of one Lookup over the generated 6.1 corpus.
func BenchmarkLookup(b *testing.B) {
	tab, corpus := benchCorpus(b)
	var dst []Hit
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		dst, _ = tab.Lookup(corpus[i%len(corpus)], dst[:0])
	}
}

// BenchmarkBruteForce is the prefix-map brute force the tests compare against, for scale.
func BenchmarkBruteForce(b *testing.B) {
	ra := loadRealAliases(b)
	bf := newBruteForce(ra.entries)
	_, corpus := benchCorpus(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		bf.lookup(corpus[i%len(corpus)])
	}
}

// BenchmarkNewTable measures loading the full 6.1 table: decoding the protobuf message
// and validating it.
func BenchmarkNewTable(b *testing.B) {
	ra := loadRealAliases(b)
	mt, err := Build(ra.entries)
	if err != nil {
		b.Fatal(err)
	}
	data, err := proto.Marshal(toSpec(mt))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("validate", func(b *testing.B) {
		for b.Loop() {
			if tab, err := NewTable(mt); err != nil {
				b.Fatal(err)
			} else if err := tab.Validate(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal+validate", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m spec.MatchTable
			if err := proto.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
			if _, err := NewTable(fromSpec(&m)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBuild(b *testing.B) {
	ra := loadRealAliases(b)
	for b.Loop() {
		if _, err := Build(ra.entries); err != nil {
			b.Fatal(err)
		}
	}
}
