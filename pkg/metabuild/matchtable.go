package metabuild

import (
	"github.com/kmodboot/kmodboot/pkg/modalias"
	"github.com/kmodboot/kmodboot/spec"
)

// BuildMatchTable builds the match table over entries (see modalias.Build) as meta.pb's
// MatchTable message. pkg/modalias produces plain arrays so that it does not import spec; this
// is where the host side puts them into the message.
func BuildMatchTable(entries []modalias.Entry) (*spec.MatchTable, error) {
	a, err := modalias.Build(entries)
	if err != nil {
		return nil, err
	}
	return &spec.MatchTable{
		Layout:       a.Layout,
		Strings:      a.Strings,
		Nodes:        a.Nodes,
		Edges:        a.Edges,
		Patterns:     a.Patterns,
		PatternCount: a.PatternCount,
		Grams:        a.Grams,
	}, nil
}
