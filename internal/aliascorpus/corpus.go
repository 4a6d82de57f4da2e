// Package aliascorpus makes test aliases from alias patterns: strings that match a pattern
// (its wildcards filled with varied content) and near misses that should not (one literal
// byte changed, truncated, extended, a bracket's non-member, '_' spelled '-').
//
// The strings only have to be interesting, not right: tests decide what matches by asking
// kmod (the reference) and comparing with kmodboot's matcher. Generation is deterministic for
// a given seed. Strings never contain NUL, '\n' or '\t', so they fit line-based protocols.
package aliascorpus

import (
	"math/rand/v2"
	"strings"
)

// Options tune Generate.
type Options struct {
	// Seed makes the output reproducible.
	Seed uint64
	// Matches is how many matching instantiations to make per pattern (at least 1).
	Matches int
	// NearMisses includes near misses derived from the first instantiation.
	NearMisses bool
}

// Generate returns distinct test aliases for patterns, in a stable order.
func Generate(patterns []string, opt Options) []string {
	r := rand.New(rand.NewPCG(opt.Seed, 0x6b6d6f64))
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s == "" || strings.ContainsAny(s, "\x00\n\t") || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, s)
	}
	for _, p := range patterns {
		for i := range max(1, opt.Matches) {
			in := Instantiate(r, p)
			add(in.String())
			if i == 0 && opt.NearMisses {
				for _, m := range in.NearMisses(r) {
					add(m)
				}
			}
		}
	}
	return out
}

// Instance is a string made from a pattern, remembering which bytes came from the pattern's
// literals and where a bracket's member was chosen.
type Instance struct {
	b        []byte
	literal  []bool // literal[i]: b[i] copies a literal byte of the pattern
	brackets []bracketPos
}

type bracketPos struct {
	at      int
	members [256]bool // bytes the bracket accepts
}

func (in *Instance) String() string { return string(in.b) }

// fills are what '*' becomes: empty, typical modalias fragments, and bytes that stress
// matchers and normalization (':', '_', '*', '-').
var fills = []string{"", "", "0", "00", "A", "1F", ":", "_", "*", "x:y", "dc", "v", "p",
	"0000", "12D1", "FFFF", "-", "Cfoo,bar", "ic", "in", "e0,1,", "k74,", "sv", "a*b"}

// Instantiate makes a string that matches the pattern under kmod's rules (its literal prefix
// copied verbatim, the rest filled) for well-formed patterns.
func Instantiate(r *rand.Rand, pattern string) *Instance {
	in := &Instance{}
	lit := func(c byte) {
		in.b = append(in.b, c)
		in.literal = append(in.literal, true)
	}
	free := func(s string) {
		in.b = append(in.b, s...)
		for range s {
			in.literal = append(in.literal, false)
		}
	}
	k := strings.IndexAny(pattern, "*?[")
	if k < 0 {
		k = len(pattern)
	}
	for i := range k {
		lit(pattern[i])
	}
	for i := k; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			switch n := r.IntN(10); {
			case n < 6:
				free(fills[r.IntN(len(fills))])
			case n < 8:
				free(randomHex(r, 1+r.IntN(8)))
			default:
				// Repeat the next literal run, so a greedy matcher is tempted too early.
				j := i + 1
				for j < len(pattern) && !strings.ContainsRune("*?[\\", rune(pattern[j])) {
					j++
				}
				free(pattern[i+1 : j])
			}
		case '?':
			free(string("0A_:x"[r.IntN(5)]))
		case '\\':
			if i+1 < len(pattern) {
				i++
				lit(pattern[i])
			}
		case '[':
			members, end, ok := parseBracket(pattern, i)
			if !ok {
				lit('[') // Unterminated: a literal '['.
				continue
			}
			var choices []byte
			for b := 0x20; b < 0x7f; b++ {
				if members[b] {
					choices = append(choices, byte(b))
				}
			}
			if len(choices) == 0 {
				free("!")
			} else {
				in.brackets = append(in.brackets, bracketPos{at: len(in.b), members: members})
				free(string(choices[r.IntN(len(choices))]))
			}
			i = end
		default:
			lit(c)
		}
	}
	return in
}

// NearMisses returns variants of the instance that differ from a match in one small way.
func (in *Instance) NearMisses(r *rand.Rand) []string {
	s := in.b
	var out []string
	variant := func(f func(b []byte) []byte) {
		out = append(out, string(f(append([]byte(nil), s...))))
	}
	var lits []int
	for i, l := range in.literal {
		if l {
			lits = append(lits, i)
		}
	}
	if len(lits) > 0 {
		at := lits[r.IntN(len(lits))]
		variant(func(b []byte) []byte { b[at] = flip(b[at]); return b })
		last := lits[len(lits)-1]
		variant(func(b []byte) []byte { b[last] = flip(b[last]); return b })
		variant(func(b []byte) []byte { return append(b[:at:at], b[at+1:]...) }) // drop one
		for _, i := range lits {
			if c := b2(s[i]); c != s[i] {
				variant(func(b []byte) []byte { b[i] = c; return b }) // change case
				break
			}
		}
	}
	if len(s) > 0 {
		variant(func(b []byte) []byte { return b[:len(b)-1] })
		variant(func(b []byte) []byte { return b[:len(b)/2] })
	}
	variant(func(b []byte) []byte { return append(b, '0') })
	variant(func(b []byte) []byte { return append(b, ':') })
	for _, br := range in.brackets {
		for _, c := range []byte("09AFaz_-:") {
			if !br.members[c] {
				variant(func(b []byte) []byte { b[br.at] = c; return b })
				break
			}
		}
	}
	if strings.Contains(string(s), "_") {
		// Normalization turns these back into the match.
		variant(func(b []byte) []byte { return []byte(strings.ReplaceAll(string(b), "_", "-")) })
		variant(func(b []byte) []byte { return []byte(strings.Replace(string(b), "_", "-", 1)) })
	}
	// Malformed aliases, which kmod rejects during normalization.
	variant(func(b []byte) []byte { return append(b, ']') })
	variant(func(b []byte) []byte { return append(b, '[') })
	return out
}

// flip returns a different byte of the same kind, so the variant still looks plausible.
func flip(c byte) byte {
	switch {
	case c >= '0' && c <= '8', c >= 'A' && c <= 'E', c >= 'a' && c <= 'y':
		return c + 1
	case c == '9':
		return 'A'
	case c == 'F':
		return '0'
	case c == 'Z', c == 'z':
		return c - 1
	case c == ':':
		return '_'
	}
	return 'x'
}

// b2 swaps the case of a letter.
func b2(c byte) byte {
	switch {
	case c >= 'a' && c <= 'z':
		return c - 'a' + 'A'
	case c >= 'A' && c <= 'Z':
		return c - 'A' + 'a'
	}
	return c
}

func randomHex(r *rand.Rand, n int) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[r.IntN(16)]
	}
	return string(b)
}

// parseBracket reads the bracket expression at p[i] the plain POSIX way (members, ranges,
// '!'/'^' negation, a leading ']', '\' escapes, [:class:]) and returns the bytes it accepts
// and the index of its ']'.
func parseBracket(p string, i int) (members [256]bool, end int, ok bool) {
	j := i + 1
	neg := j < len(p) && (p[j] == '!' || p[j] == '^')
	if neg {
		j++
	}
	var set [256]bool
	first := true
	for j < len(p) {
		c := p[j]
		if c == ']' && !first {
			if neg {
				for b := range set {
					set[b] = !set[b]
				}
			}
			return set, j, true
		}
		first = false
		if c == '[' && j+1 < len(p) && p[j+1] == ':' {
			e := strings.Index(p[j+2:], ":]")
			if e < 0 {
				return set, 0, false
			}
			name := p[j+2 : j+2+e]
			for b := range 256 {
				if inClass(name, byte(b)) {
					set[b] = true
				}
			}
			j += e + 4
			continue
		}
		if c == '\\' && j+1 < len(p) {
			j++
			c = p[j]
		}
		if j+2 < len(p) && p[j+1] == '-' && p[j+2] != ']' {
			hi := p[j+2]
			for b := int(c); b <= int(hi); b++ {
				set[b] = true
			}
			j += 3
			continue
		}
		set[c] = true
		j++
	}
	return set, 0, false
}

func inClass(name string, b byte) bool {
	switch name {
	case "digit":
		return b >= '0' && b <= '9'
	case "xdigit":
		return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
	case "alpha":
		return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
	case "alnum":
		return inClass("alpha", b) || inClass("digit", b)
	case "upper":
		return b >= 'A' && b <= 'Z'
	case "lower":
		return b >= 'a' && b <= 'z'
	}
	return false
}
