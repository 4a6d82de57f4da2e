package modalias

import (
	"errors"
	"fmt"
	"strings"
)

// MaxAliasLen is how many bytes of an alias kmod looks at: alias_normalize copies into a
// PATH_MAX buffer and stops after PATH_MAX-1 = 4095 bytes, so anything longer is truncated.
// A bracket expression that starts before that limit is still copied up to its ']', as kmod's
// inner copy loop has no limit of its own.
const MaxAliasLen = 4095

// ErrInvalidAlias is wrapped by every error Normalize returns, so callers can tell a malformed
// alias (which kmod answers with EINVAL) from other failures with errors.Is.
var ErrInvalidAlias = errors.New("invalid alias")

// AliasError is the error Normalize returns for a malformed alias. It is cheap to make (coldplug
// may meet many malformed aliases) and formats its message only when asked.
type AliasError struct {
	// Alias is the alias as given.
	Alias string
	// Offset is where in Alias the problem is.
	Offset int
	// Problem says what is wrong at Offset.
	Problem string
}

func (e *AliasError) Error() string {
	return fmt.Sprintf("normalize alias %s: %s at offset %d", quoteShort(e.Alias), e.Problem, e.Offset)
}

// Unwrap makes errors.Is(err, ErrInvalidAlias) true.
func (e *AliasError) Unwrap() error { return ErrInvalidAlias }

// Normalize rewrites an alias the way kmod's alias_normalize does before any lookup, and the
// way depmod rewrites every alias pattern before indexing it: each '-' outside a bracket
// expression becomes '_', a '[' is copied verbatim up to and including the next ']', and the
// result is cut after MaxAliasLen bytes.
//
// It fails with an *AliasError, wrapping ErrInvalidAlias, on a ']' outside brackets, on a '['
// without a closing ']', and on a NUL byte (which C would silently treat as the end of the
// string). depmod drops patterns that fail here, and kmod answers such an alias with EINVAL.
func Normalize(alias string) (string, error) {
	if i := strings.IndexByte(alias, 0); i >= 0 {
		return "", &AliasError{alias, i, "NUL byte"}
	}
	// One pass checks the brackets and finds where kmod stops reading.
	end, dash := 0, false
	for end < MaxAliasLen && end < len(alias) {
		switch alias[end] {
		case '-':
			dash = true
		case ']':
			return "", &AliasError{alias, end, "']' closes no '['"}
		case '[':
			j := strings.IndexByte(alias[end:], ']')
			if j < 0 {
				return "", &AliasError{alias, end, "'[' is never closed by ']'"}
			}
			end += j // A bracket is copied whole, even past MaxAliasLen.
		}
		end++
	}
	if !dash {
		return alias[:end], nil // The common case: nothing to rewrite, no allocation.
	}
	var b strings.Builder
	b.Grow(end)
	for i := 0; i < end; i++ {
		switch c := alias[i]; c {
		case '-':
			b.WriteByte('_')
		case '[':
			j := strings.IndexByte(alias[i:], ']')
			b.WriteString(alias[i : i+j+1])
			i += j
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// quoteShort quotes s for an error message, eliding the end of very long strings.
func quoteShort(s string) string {
	const keep = 80
	if len(s) <= keep {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...(%d bytes)", s[:keep], len(s))
}
