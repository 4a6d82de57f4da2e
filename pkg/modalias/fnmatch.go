package modalias

import "strings"

// Fnmatch reports whether s matches the shell pattern with the semantics of glibc's
// fnmatch(3) called with flags 0 in the C locale, which is what libkmod uses for the wildcard
// part of alias patterns:
//
//   - '*' matches any run of bytes, '/' and a leading '.' included; '?' matches one byte.
//   - '\' makes the next byte literal, also inside brackets; a trailing '\' matches nothing.
//   - "[...]" matches one byte from a set of bytes, ranges ("a-z", compared as unsigned
//     bytes), classes ("[:alpha:]" and the other 11 C-locale classes), equivalence classes
//     ("[=a=]") and collating symbols ("[.a.]"); "[!...]" and "[^...]" negate; a ']' right
//     after the '[' (and the negation) is a member. An unknown class name makes the
//     bracket, and so the match at that position, fail.
//   - A '[' without a closing ']' matches a literal '[', and the bytes after it are read as
//     pattern again (glibc 2.36 and later; Debian 12's libc behaves so).
//
// Both strings end at their first NUL byte, as C strings do. Matching never backtracks
// across a '*' more than once (glibc's leftmost-segment strategy), so its cost is bounded by
// len(pattern)*len(s).
func Fnmatch(pattern, s string) bool {
	if i := strings.IndexByte(pattern, 0); i >= 0 {
		pattern = pattern[:i]
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return fnmatch(pattern, s)
}

// fnmatch is Fnmatch for strings known to contain no NUL byte.
func fnmatch(pattern, s string) bool {
	res, pi, si := matchSegment(pattern, 0, s, 0)
	for {
		switch res {
		case segFail:
			return false
		case segEnd:
			return true
		}
		// pattern[pi] is a '*'. Swallow the run of '*' and '?' that starts there; each '?'
		// still needs one byte.
		for ; pi < len(pattern) && (pattern[pi] == '*' || pattern[pi] == '?'); pi++ {
			if pattern[pi] == '?' {
				if si == len(s) {
					return false
				}
				si++
			}
		}
		if pi == len(pattern) {
			return true
		}
		// Find the leftmost position where the next segment (up to the next '*' or the
		// end) matches. Taking the leftmost is always right because every element of a
		// segment consumes exactly one byte.
		res = segFail
		for n := si; n < len(s); n++ {
			r, pe, se := matchSegment(pattern, pi, s, n)
			if r != segFail {
				res, pi, si = r, pe, se
				break
			}
		}
	}
}

// segResult is how matchSegment ended.
type segResult uint8

const (
	segFail segResult = iota // the segment does not match here
	segEnd                   // pattern and string both ended: a match
	segStar                  // reached a '*' in the pattern; the caller continues there
)

// matchSegment matches pattern[pi:] against s[si:] element by element until the pattern ends
// or reaches a '*'. It returns where both stopped.
func matchSegment(p string, pi int, s string, si int) (segResult, int, int) {
	for pi < len(p) {
		switch c := p[pi]; c {
		case '*':
			return segStar, pi, si
		case '?':
			if si == len(s) {
				return segFail, 0, 0
			}
			pi++
		case '\\':
			if pi+1 == len(p) || si == len(s) || s[si] != p[pi+1] {
				return segFail, 0, 0 // A trailing backslash matches nothing.
			}
			pi += 2
		case '[':
			if si == len(s) {
				return segFail, 0, 0
			}
			switch r, next := matchBracket(p, pi+1, s[si]); r {
			case bracketMatch:
				pi = next
			case bracketLiteral:
				// Unterminated: the '[' is an ordinary byte and the rest is pattern again.
				if s[si] != '[' {
					return segFail, 0, 0
				}
				pi++
			default:
				return segFail, 0, 0
			}
		default:
			if si == len(s) || s[si] != c {
				return segFail, 0, 0
			}
			pi++
		}
		si++
	}
	if si != len(s) {
		return segFail, 0, 0
	}
	return segEnd, pi, si
}

// bracketResult is how one bracket expression applied to one byte.
type bracketResult uint8

const (
	bracketFail    bracketResult = iota // no match (or a malformed bracket that glibc rejects)
	bracketMatch                        // the byte matches; the returned index follows the ']'
	bracketLiteral                      // unterminated: glibc treats the '[' as a literal
)

// charClassMaxLength is glibc's CHARCLASS_NAME_MAX, the longest class name fnmatch reads.
const charClassMaxLength = 2048

// matchBracket applies the bracket expression whose '[' is at p[i-1] to the byte fn. It
// follows glibc's fnmatch_loop.c decision by decision (C locale: no collation rules, byte
// ranges), including its quirks, because libkmod's answers are defined by that code.
func matchBracket(p string, i int, fn byte) (bracketResult, int) {
	at := func(k int) byte {
		if k < len(p) {
			return p[k]
		}
		return 0
	}
	not := false
	if c := at(i); c == '!' || c == '^' {
		not = true
		i++
	}
	c := at(i)
	i++
	for {
		var cold byte      // the low end of a possible range
		rangeable := false // whether the item just read can start a range
		switch {
		case c == '\\':
			if at(i) == 0 {
				return bracketFail, 0
			}
			c = at(i)
			i++
			rangeable = true
		case c == '[' && at(i) == ':':
			startp := i
			nameLen := 0
			isClass := true
			for {
				if nameLen == charClassMaxLength {
					return bracketFail, 0
				}
				i++
				c = at(i)
				if c == ':' && at(i+1) == ']' {
					i += 2
					break
				}
				if c < 'a' || c >= 'z' {
					// Not a class name after all: the '[' is an ordinary member.
					i, c, isClass, rangeable = startp, '[', false, true
					break
				}
				nameLen++
			}
			if isClass {
				in, ok := classMember(p[startp+1:startp+1+nameLen], fn)
				if !ok {
					return bracketFail, 0 // Unknown class name: glibc gives up.
				}
				if in {
					return skipBracket(p, i, not)
				}
				c = at(i)
				i++
			}
		case c == '[' && at(i) == '=':
			startp := i
			i++
			c = at(i)
			if c == 0 {
				i, c, rangeable = startp, '[', true
				break
			}
			str := c
			i++
			c = at(i)
			if c != '=' || at(i+1) != ']' {
				i, c, rangeable = startp, '[', true
				break
			}
			i += 2
			if fn == str {
				return skipBracket(p, i, not)
			}
			c = at(i)
			i++
		case c == 0:
			return bracketLiteral, 0
		case c == '[' && at(i) == '.':
			startp := i
			n := 0
			for {
				i++
				c = at(i)
				if c == '.' && at(i+1) == ']' {
					i += 2
					break
				}
				if c == 0 {
					return bracketFail, 0
				}
				n++
			}
			// glibc forgets to exclude a following "-]" here, unlike for plain members.
			isRange := at(i) == '-' && at(i+1) != 0
			if n != 1 {
				return bracketFail, 0 // The C locale has no multi-byte collating elements.
			}
			if !isRange && fn == p[startp+1] {
				return skipBracket(p, i, not)
			}
			cold = p[startp+1]
			c = at(i)
			i++
			if c == '-' && at(i) != ']' {
				r, next, done := bracketRange(p, i, cold, fn, not)
				if done {
					return r, next
				}
				i = next
				c = at(i)
				i++
			}
		default:
			rangeable = true
		}
		if rangeable {
			isRange := at(i) == '-' && at(i+1) != 0 && at(i+1) != ']'
			if !isRange && c == fn {
				return skipBracket(p, i, not)
			}
			cold = c
			c = at(i)
			i++
			if c == '-' && at(i) != ']' {
				r, next, done := bracketRange(p, i, cold, fn, not)
				if done {
					return r, next
				}
				i = next
				c = at(i)
				i++
			}
		}
		if c == ']' {
			break
		}
	}
	if !not {
		return bracketFail, 0
	}
	return bracketMatch, i
}

// bracketRange reads the end of a range cold-... whose end starts at p[i]. done reports that
// the bracket is decided (r, next); otherwise next is the index after the range end.
func bracketRange(p string, i int, cold, fn byte, not bool) (r bracketResult, next int, done bool) {
	at := func(k int) byte {
		if k < len(p) {
			return p[k]
		}
		return 0
	}
	cend := at(i)
	i++
	if cend == '[' && at(i) == '.' {
		startp := i
		n := 0
		for {
			i++
			c := at(i)
			if c == '.' && at(i+1) == ']' {
				i += 2
				break
			}
			if c == 0 {
				return bracketFail, 0, true
			}
			n++
		}
		if n != 1 {
			return bracketFail, 0, true
		}
		cend = p[startp+1]
	} else {
		if cend == '\\' {
			cend = at(i)
			i++
		}
		if cend == 0 {
			return bracketFail, 0, true
		}
	}
	if cold <= fn && fn <= cend {
		r, next := skipBracket(p, i, not)
		return r, next, true
	}
	return 0, i, false
}

// skipBracket skips the rest of a bracket expression whose member matched, as glibc's
// "matched:" label does (with its own, slightly different, parsing rules).
func skipBracket(p string, i int, not bool) (bracketResult, int) {
	at := func(k int) byte {
		if k < len(p) {
			return p[k]
		}
		return 0
	}
	for {
		c := at(i)
		i++
		if c == ']' {
			break
		}
		switch {
		case c == 0:
			// Unterminated after all: glibc >= 2.36 (bug 28792) rescans the '[' as a
			// literal, even though a member matched.
			return bracketLiteral, 0
		case c == '\\':
			if at(i) == 0 {
				return bracketFail, 0
			}
			i++
		case c == '[' && at(i) == ':':
			startp := i
			n := 0
			for {
				i++
				c = at(i)
				n++
				if n == charClassMaxLength {
					return bracketFail, 0
				}
				if at(i) == ':' && at(i+1) == ']' {
					break
				}
				if c < 'a' || c >= 'z' {
					i = startp - 2
					break
				}
			}
			i += 2
		case c == '[' && at(i) == '=':
			i++
			if at(i) == 0 {
				return bracketFail, 0
			}
			i++
			if at(i) != '=' || at(i+1) != ']' {
				return bracketFail, 0
			}
			i += 2
		case c == '[' && at(i) == '.':
			for {
				i++
				c = at(i)
				if c == 0 {
					return bracketFail, 0
				}
				if c == '.' && at(i+1) == ']' {
					break
				}
			}
			i += 2
		}
	}
	if not {
		return bracketFail, 0
	}
	return bracketMatch, i
}

// classMember reports whether b belongs to the C-locale character class name; ok is false
// for a name the C locale does not define.
func classMember(name string, b byte) (in, ok bool) {
	upper := 'A' <= b && b <= 'Z'
	lower := 'a' <= b && b <= 'z'
	digit := '0' <= b && b <= '9'
	graph := '!' <= b && b <= '~'
	switch name {
	case "alnum":
		return upper || lower || digit, true
	case "alpha":
		return upper || lower, true
	case "blank":
		return b == ' ' || b == '\t', true
	case "cntrl":
		return b < ' ' || b == 0x7f, true
	case "digit":
		return digit, true
	case "graph":
		return graph, true
	case "lower":
		return lower, true
	case "print":
		return graph || b == ' ', true
	case "punct":
		return graph && !upper && !lower && !digit, true
	case "space":
		return b == ' ' || ('\t' <= b && b <= '\r'), true
	case "upper":
		return upper, true
	case "xdigit":
		return digit || ('a' <= b && b <= 'f') || ('A' <= b && b <= 'F'), true
	}
	return false, false
}

// MatchAlias reports whether the normalized alias s matches the normalized pattern the way
// libkmod's modules.alias.bin lookup decides it: a pattern without '*', '?' or '[' matches
// only the identical string; otherwise the pattern's literal prefix (every byte before the
// first of those three, a backslash included) must equal the start of s byte for byte, and
// the rest of the pattern must match the rest of s under Fnmatch.
func MatchAlias(pattern, s string) bool {
	k := strings.IndexAny(pattern, "*?[")
	if k < 0 {
		return pattern == s
	}
	return len(s) >= k && s[:k] == pattern[:k] && Fnmatch(pattern[k:], s[k:])
}
