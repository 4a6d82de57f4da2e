package modalias

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// fnmatchCases are checked against Fnmatch, against glibc when the oracle is available, and
// (where it can express them) against the regexp translation.
var fnmatchCases = []struct {
	pattern, s string
	want       bool
}{
	{"", "", true},
	{"", "a", false},
	{"*", "", true},
	{"*", "/.x/y", true}, // flags 0: '*' crosses '/' and leading '.'
	{"?", "", false},
	{"?", "/", true},
	{"a*b*c", "abc", true},
	{"a*b*c", "a_b_b_c", true},
	{"a*b*c", "a_b_b_cd", false},
	{"*dc*dsc*dp*ic*isc*ip*in*", "d0100dc00dsc00dp00ic03isc01ip02in00", true},
	{"*v0000172Fp00000032", "v0000172Fp00000032", true},
	{"*v0000172Fp00000032", "v0000172Fp000000321", false},
	{"*??", "a", false},
	{"*??", "ab", true},
	{"**?*", "x", true},
	{`\*`, "*", true},
	{`\*`, "a", false},
	{`\`, `\`, false}, // a trailing backslash matches nothing
	{`a\`, `a\`, false},
	{`*\`, `a\`, false},
	{"[abc]", "b", true},
	{"[abc]", "d", false},
	{"[a-c]", "b", true},
	{"[c-a]", "b", false},
	{"[!a-c]", "d", true},
	{"[!a-c]", "b", false},
	{"[^a-c]", "d", true},
	{"[]]", "]", true},
	{"[]a]", "a", true},
	{"[!]]", "]", false},
	{"[!]]", "x", true},
	{"[a-]", "-", true},
	{"[a-]", "b", false},
	{"[]-a]", "^", true},
	{`[\]]`, "]", true},
	{`[\!a]`, "!", true},
	{`[a\-z]`, "-", true},
	{`[a\-z]`, "b", false},
	{`[a-\z]`, "q", true},
	{"[[:alpha:]]", "Q", true},
	{"[[:alpha:]]", "1", false},
	{"[[:digit:][:upper:]]", "7", true},
	{"[![:space:]]", " ", false},
	{"[[:xdigit:]]", "f", true},
	{"[[:punct:]]", "_", true},
	{"[[:bogus:]]", "a", false}, // unknown class: no match at all
	{"[[:alpha:]x", "x", false}, // unterminated after a class
	{"[[=a=]]", "a", true},      // equivalence class, C locale
	{"[[.a.]]", "a", true},      // collating symbol
	{"[[.a.]-c]", "b", true},    // collating symbol as range start
	{"[a-[.c.]]", "b", true},    // and as range end
	{"[[.ab.]]", "a", false},    // no multi-byte collating elements in C
	{"[", "[", true},            // unterminated: a literal '['
	{"[a", "[a", true},          // ... followed by pattern
	{"[a", "a", false},          // even when a member matches
	{"[*", "[xyz", true},        // the rest is pattern again, '*' included
	{"[[", "[", false},
	{"[[", "[[", true}, // glibc's tst-fnmatch7 (bug 28792)
	{`[\]`, "[]", true},
	{`[[\]`, "[[]", true},
	{"[]", "[]", true},   // "[]" is unterminated (']' is a member)
	{"[!]", "[!]", true}, // so is "[!]"
	{"a[", "a[", true},
	{"[\xff]", "\xff", true},      // bytes >= 0x80 are plain bytes
	{"[\x80-\xff]", "\x90", true}, // and ranges compare unsigned
	{"[!\x80-\xff]", "a", true},
	{"*[0-2]dc*", "d012dc00", true},
	{"*[0-2]dc*", "d013dc00", false},
	{"a\x00b", "a", true}, // NUL ends the pattern, as in C
	{"a", "a\x00b", true}, // and the string
}

func TestFnmatch(t *testing.T) {
	for _, tc := range fnmatchCases {
		t.Run(fmt.Sprintf("%q~%q", tc.pattern, tc.s), func(t *testing.T) {
			if got := Fnmatch(tc.pattern, tc.s); got != tc.want {
				t.Errorf("Fnmatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
			if re, ok := globRegexp(tc.pattern); ok {
				if got := re.MatchString(latin1(cstring(tc.s))); got != tc.want {
					t.Errorf("regexp %s for %q on %q = %v, want %v", re, tc.pattern, tc.s, got, tc.want)
				}
			}
		})
	}
}

// TestFnmatchCasesAgainstGlibc makes sure the expectations above are glibc's, not ours.
func TestFnmatchCasesAgainstGlibc(t *testing.T) {
	kmodOracle(t)
	g := glibcFnmatch(t)
	if g == nil {
		t.Fatal("kmodref fnmatch did not start")
	}
	pairs := make([][2]string, len(fnmatchCases))
	for i, tc := range fnmatchCases {
		pairs[i] = [2]string{tc.pattern, tc.s}
	}
	got, err := g.MatchAll(pairs)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range fnmatchCases {
		if got[i] != tc.want {
			t.Errorf("glibc fnmatch(%q, %q) = %v, but the table says %v", tc.pattern, tc.s, got[i], tc.want)
		}
	}
}

// randomGlob returns a pattern built from the pieces that stress fnmatch's parser.
func randomGlob(r *rand.Rand) string {
	pieces := []string{"a", "b", "c", "-", "]", "[", "!", "^", "*", "?", `\`, ":", ".", "=",
		"[:alpha:]", "[:digit:]", "[:bogus:]", "[=a=]", "[.a.]", "[.b", "[:", "z", "\xe9", "a-c", "c-a"}
	var b strings.Builder
	n := r.IntN(8)
	for range n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randomSubject(r *rand.Rand) string {
	const alphabet = "abc-][!^:.=*?\\z\xe9 1"
	n := r.IntN(6)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// TestFnmatchAgainstGlibc compares Fnmatch with glibc on many random patterns made of the
// characters that matter to fnmatch's parser.
func TestFnmatchAgainstGlibc(t *testing.T) {
	kmodOracle(t)
	g := glibcFnmatch(t)
	if g == nil {
		t.Fatal("kmodref fnmatch did not start")
	}
	n := 200000
	if testing.Short() {
		n = 20000
	}
	r := rand.New(rand.NewPCG(1, 2))
	pairs := make([][2]string, n)
	for i := range pairs {
		p := randomGlob(r)
		var s string
		if r.IntN(2) == 0 {
			s = randomSubject(r)
		} else {
			s = instantiate(r, p) // strings likely to match
		}
		pairs[i] = [2]string{p, s}
	}
	want, err := g.MatchAll(pairs)
	if err != nil {
		t.Fatal(err)
	}
	bad, matched := 0, 0
	for i, p := range pairs {
		if want[i] {
			matched++
		}
		if got := Fnmatch(p[0], p[1]); got != want[i] {
			if bad++; bad <= 20 {
				t.Errorf("Fnmatch(%q, %q) = %v, glibc says %v", p[0], p[1], got, want[i])
			}
		}
	}
	t.Logf("compared %d (pattern, string) pairs with glibc (%d matches), %d differences", n, matched, bad)
}

// instantiate makes a string that probably matches the glob p, by copying literals and
// filling wildcards.
func instantiate(r *rand.Rand, p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			b.WriteString([]string{"", "a", "xy", "]["}[r.IntN(4)])
		case '?':
			b.WriteByte("ab-]"[r.IntN(4)])
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteByte(p[i])
			}
		case '[':
			if j := strings.IndexByte(p[i+1:], ']'); j >= 0 && r.IntN(2) == 0 && j > 0 {
				b.WriteByte(p[i+1+r.IntN(j)])
				i += j + 1
			} else {
				b.WriteByte('[')
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzFnmatch(f *testing.F) {
	for _, tc := range fnmatchCases {
		f.Add(tc.pattern, tc.s)
	}
	f.Add("pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01")
	f.Add("*T*Cgoogle,cr50C*", "NcrT(null)Cgoogle,cr50")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 64 {
			return // Longer inputs add time, not coverage.
		}
		got := Fnmatch(pattern, s)
		if re, ok := globRegexp(pattern); ok {
			if want := re.MatchString(latin1(cstring(s))); got != want {
				t.Errorf("Fnmatch(%q, %q) = %v, regexp %s says %v", pattern, s, got, re, want)
			}
		}
		if g := glibcFnmatch(t); g != nil {
			want, err := g.Match(pattern, s)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Fnmatch(%q, %q) = %v, glibc says %v", pattern, s, got, want)
			}
		}
	})
}

// latin1 maps each byte to the rune of the same value, so Go's rune-based regexp can match
// byte strings byte for byte.
func latin1(s string) string {
	rs := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		rs[i] = rune(s[i])
	}
	return string(rs)
}

func cstring(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// globRegexp is an independent translation of an fnmatch pattern (flags 0, C locale) into a
// Go regexp over latin1 strings, written from the POSIX description rather than from glibc's
// code. It reports ok=false for the corners where glibc's behaviour is an implementation
// accident (unterminated brackets, malformed "[:", "[=", "[." items); glibc itself covers
// those in TestFnmatchAgainstGlibc and FuzzFnmatch.
func globRegexp(p string) (*regexp.Regexp, bool) {
	p = cstring(p)
	var b strings.Builder
	b.WriteString(`\A`)
	lit := func(c byte) string { return fmt.Sprintf(`\x{%x}`, c) }
	const never = `[^\x{0}-\x{10FFFF}]`
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '*':
			b.WriteString(`(?s:.*)`)
			i++
		case '?':
			b.WriteString(`(?s:.)`)
			i++
		case '\\':
			if i+1 == len(p) {
				b.WriteString(never)
				i++
				continue
			}
			b.WriteString(lit(p[i+1]))
			i += 2
		case '[':
			class, next, ok := bracketClass(p, i+1)
			if !ok {
				return nil, false
			}
			b.WriteString(class)
			i = next
		default:
			b.WriteString(lit(c))
			i++
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String()), true
}

// bracketClass translates the bracket expression starting after the '[' at p[i-1].
func bracketClass(p string, i int) (class string, next int, ok bool) {
	classes := map[string]bool{"alnum": true, "alpha": true, "blank": true, "cntrl": true,
		"digit": true, "graph": true, "lower": true, "print": true, "punct": true,
		"space": true, "upper": true, "xdigit": true}
	neg := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		neg = true
		i++
	}
	var items []string
	// single reads one member byte at p[i]: plain, escaped, [=c=] or [.c.].
	single := func() (byte, bool) {
		if i >= len(p) {
			return 0, false
		}
		switch {
		case p[i] == '\\':
			if i+1 >= len(p) {
				return 0, false
			}
			i += 2
			return p[i-1], true
		case p[i] == '[' && i+1 < len(p) && (p[i+1] == '=' || p[i+1] == '.'):
			if i+4 < len(p) && p[i+3] == p[i+1] && p[i+4] == ']' && p[i+2] != 0 {
				i += 5
				return p[i-3], true
			}
			return 0, false
		}
		i++
		return p[i-1], true
	}
	first := true
	for {
		if i >= len(p) {
			return "", 0, false // Unterminated.
		}
		if p[i] == ']' && !first {
			i++
			break
		}
		first = false
		if p[i] == '[' && i+1 < len(p) && p[i+1] == ':' {
			end := strings.Index(p[i+2:], ":]")
			if end < 0 || !classes[p[i+2:i+2+end]] {
				return "", 0, false
			}
			items = append(items, "[:"+p[i+2:i+2+end]+":]")
			i += 2 + end + 2
			continue
		}
		isEquiv := p[i] == '[' && i+1 < len(p) && p[i+1] == '='
		isColl := p[i] == '[' && i+1 < len(p) && p[i+1] == '.'
		lo, ok := single()
		if !ok {
			return "", 0, false
		}
		if isColl && i+1 < len(p) && p[i] == '-' && p[i+1] == ']' {
			return "", 0, false // glibc's "[.a.]-]" quirk.
		}
		if !isEquiv && i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			i++
			if p[i] == '[' && i+1 < len(p) && p[i+1] == '=' {
				return "", 0, false // An equivalence class cannot end a range.
			}
			hi, ok := single()
			if !ok {
				return "", 0, false
			}
			if lo <= hi {
				items = append(items, fmt.Sprintf(`\x{%x}-\x{%x}`, lo, hi))
			}
			continue
		}
		items = append(items, fmt.Sprintf(`\x{%x}`, lo))
	}
	switch {
	case len(items) == 0 && neg:
		return `(?s:.)`, i, true
	case len(items) == 0:
		return `[^\x{0}-\x{10FFFF}]`, i, true
	case neg:
		return "[^" + strings.Join(items, "") + "]", i, true
	}
	return "[" + strings.Join(items, "") + "]", i, true
}

func TestMatchAlias(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"fs_ext4", "fs_ext4", true},
		{"fs_ext4", "fs_ext", false},
		{"fs_ext4", "fs_ext44", false},
		{"pci:v00001AF4d00001000sv*sd*bc*sc*i*", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", true},
		{"pci:v00001AF4d00001000sv*sd*bc*sc*i*", "pci:v00001AF4d00001001sv00001AF4sd00000001bc02sc00i00", false},
		{"usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*", "usb:v13FDp3940d0100dc00dsc00dp00ic08isc06ip50in00", true},
		{"usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*", "usb:v13FDp3940d0300dc00dsc00dp00ic08isc06ip50in00", false},
		// The literal prefix is compared byte for byte: a backslash in it is not an escape,
		// and the escape it would have formed is lost to the wildcard part.
		{`a\*b`, `a\xb`, true},
		{`a\*b`, `a*b`, false},
		{`ab\`, `ab\`, true}, // no wildcard: plain equality
		{"a*", "a", true},
		{"ab*", "a", false},
		{"", "", true},
		{"*", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+"~"+tc.s, func(t *testing.T) {
			if got := MatchAlias(tc.pattern, tc.s); got != tc.want {
				t.Errorf("MatchAlias(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	long := strings.Repeat("x", MaxAliasLen)
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"snd-hda-intel", "snd_hda_intel", false},
		{"pci:v*d*", "pci:v*d*", false},
		{"usb:v1d[0-2]-x", "usb:v1d[0-2]_x", false}, // '-' inside brackets stays
		{"a[-]b-", "a[-]b_", false},
		{"a[[-]b", "a[[-]b", false}, // a '[' inside brackets is copied
		{"a]b", "", true},
		{"a[b", "", true},
		{"a[b]]", "", true},
		{"a\x00b", "", true},
		{"", "", false},
		{long + "-more", long, false},                    // truncated after 4095 bytes
		{long[1:] + "-", long[1:] + "_", false},          // the 4095th byte still counts
		{long[1:] + "[a-b]z", long[1:] + "[a-b]", false}, // a bracket straddling the limit is kept whole
		{long[1:] + "]", "", true},                       // the 4095th byte may still be an error
		{long + "]", long, false},                        // the 4096th not
	}
	for _, tc := range tests {
		t.Run(quoteShort(tc.in), func(t *testing.T) {
			got, err := Normalize(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("Normalize(%s) = %s, %v; want %s, error %v", quoteShort(tc.in), quoteShort(got), err, quoteShort(tc.want), tc.wantErr)
			}
		})
	}
}

// normalizeRef is a second, deliberately naive alias_normalize: a byte-at-a-time state
// machine instead of Normalize's fast path and slice copies.
func normalizeRef(s string) (string, bool) {
	if strings.Contains(s, "\x00") {
		return "", false
	}
	var out []byte
	inBracket := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i >= MaxAliasLen && !inBracket {
			break
		}
		switch {
		case inBracket:
			out = append(out, c)
			if c == ']' {
				inBracket = false
			}
		case c == '[':
			out = append(out, c)
			inBracket = true
		case c == ']':
			return "", false
		case c == '-':
			out = append(out, '_')
		default:
			out = append(out, c)
		}
	}
	if inBracket {
		return "", false
	}
	return string(out), true
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"snd-hda-intel", "usb:v1d[0-2]-x", "a]b", "a[b", "", "a\x00", "[-]-[--]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Normalize(s)
		want, ok := normalizeRef(s)
		if (err == nil) != ok || got != want {
			t.Fatalf("Normalize(%q) = %q, %v; reference says %q, ok %v", s, got, err, want, ok)
		}
		if err != nil {
			return
		}
		again, err := Normalize(got)
		if err != nil || again != got {
			t.Fatalf("Normalize is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}

func TestNormalizeError(t *testing.T) {
	_, err := Normalize("pci:v]x")
	var ae *AliasError
	if !errors.As(err, &ae) || !errors.Is(err, ErrInvalidAlias) || ae.Offset != 5 {
		t.Fatalf("Normalize(%q) error = %v, want an *AliasError at offset 5 wrapping ErrInvalidAlias", "pci:v]x", err)
	}
	if want := `normalize alias "pci:v]x": ']' closes no '[' at offset 5`; err.Error() != want {
		t.Errorf("Normalize error = %q, want %q", err.Error(), want)
	}
}
