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

// Normalize rewrites an alias the way kmod's alias_normalize does before any lookup, and the
// way depmod rewrites every alias pattern before indexing it: each '-' outside a bracket
// expression becomes '_', a '[' is copied verbatim up to and including the next ']', and the
// result is cut after MaxAliasLen bytes.
//
// It fails, wrapping ErrInvalidAlias, on a ']' outside brackets, on a '[' without a closing
// ']', and on a NUL byte (which C would silently treat as the end of the string). depmod drops
// patterns that fail here, and kmod answers such an alias with EINVAL.
func Normalize(alias string) (string, error) {
	if i := strings.IndexByte(alias, 0); i >= 0 {
		return "", fmt.Errorf("normalize alias %s: NUL byte at offset %d: %w", quoteShort(alias), i, ErrInvalidAlias)
	}
	if len(alias) <= MaxAliasLen && strings.IndexAny(alias, "-[]") < 0 {
		return alias, nil // The common case: nothing to rewrite, no allocation.
	}
	buf := make([]byte, 0, min(len(alias), MaxAliasLen+1))
	for i := 0; i < MaxAliasLen && i < len(alias); i++ {
		switch c := alias[i]; c {
		case '-':
			buf = append(buf, '_')
		case ']':
			return "", fmt.Errorf("normalize alias %s: ']' at offset %d closes no '[': %w", quoteShort(alias), i, ErrInvalidAlias)
		case '[':
			j := strings.IndexByte(alias[i:], ']')
			if j < 0 {
				return "", fmt.Errorf("normalize alias %s: '[' at offset %d is never closed by ']': %w", quoteShort(alias), i, ErrInvalidAlias)
			}
			buf = append(buf, alias[i:i+j+1]...)
			i += j
		default:
			buf = append(buf, c)
		}
	}
	return string(buf), nil
}

// quoteShort quotes s for an error message, eliding the middle of very long strings.
func quoteShort(s string) string {
	const keep = 80
	if len(s) <= keep {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...(%d bytes)", s[:keep], len(s))
}
