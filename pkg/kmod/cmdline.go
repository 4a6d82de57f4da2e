package kmod

import (
	"strings"

	"github.com/kmodboot/kmodboot/pkg/modindex"
)

// KernelArg is one parameter of the kernel command line.
type KernelArg struct {
	// Param is the text before the first '=', unquoted.
	Param string
	// Value is the text after the first '=', unquoted; HasValue says whether there was an '='.
	Value    string
	HasValue bool
}

// SplitCmdline splits a kernel command line into parameters exactly as the kernel's next_arg
// does: blanks separate parameters except inside double quotes; a parameter may be quoted as a
// whole ("a.b=c d") or in its value (a.b="c d"), and those quotes are removed. Like the kernel,
// it stops at a bare "--": what follows belongs to init, not to the kernel or modules.
func SplitCmdline(s string) []KernelArg {
	var args []KernelArg
	s = skipSpace(s)
	for s != "" {
		var a KernelArg
		a, s = nextArg(s)
		if !a.HasValue && a.Param == "--" {
			break
		}
		args = append(args, a)
	}
	return args
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func skipSpace(s string) string {
	for s != "" && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// nextArg mirrors the kernel's next_arg (lib/cmdline.c, kernel/params.c).
func nextArg(s string) (KernelArg, string) {
	quoted := false
	if s[0] == '"' {
		s = s[1:]
		quoted = true
	}
	inQuote := quoted
	equals := 0 // like the kernel, an '=' at offset 0 does not count
	i := 0
	for ; i < len(s); i++ {
		if isSpace(s[i]) && !inQuote {
			break
		}
		if equals == 0 && s[i] == '=' {
			equals = i
		}
		if s[i] == '"' {
			inQuote = !inQuote
		}
	}
	tok := s[:i]
	rest := ""
	if i < len(s) {
		rest = skipSpace(s[i+1:])
	}
	endsQuote := len(tok) > 0 && tok[len(tok)-1] == '"'
	var a KernelArg
	if equals == 0 {
		a.Param = tok
		if quoted && endsQuote {
			a.Param = tok[:len(tok)-1]
		}
		return a, rest
	}
	a.Param, a.Value, a.HasValue = tok[:equals], tok[equals+1:], true
	stripped := false
	if strings.HasPrefix(a.Value, "\"") {
		a.Value = a.Value[1:]
		if endsQuote && a.Value != "" {
			a.Value = a.Value[:len(a.Value)-1]
		}
		stripped = true // the closing quote, if any, is the one just removed
	}
	if quoted && endsQuote && !stripped && a.Value != "" {
		a.Value = a.Value[:len(a.Value)-1]
	}
	return a, rest
}

// ParseCmdline adds the module settings of a kernel command line to c: modprobe.blacklist=a,b
// (repeatable) and <module>.<param>[=<value>], whose options come after those of the modprobe.d
// files. source names the command line in warnings and reports.
func (c *Config) ParseCmdline(cmdline, source string) {
	for _, a := range SplitCmdline(cmdline) {
		dot := strings.IndexByte(a.Param, '.')
		if dot <= 0 || dot == len(a.Param)-1 {
			continue
		}
		module := modindex.NormalizeName(a.Param[:dot])
		param := a.Param[dot+1:]
		if module == "modprobe" && strings.ReplaceAll(param, "-", "_") == "blacklist" {
			for _, name := range strings.Split(a.Value, ",") {
				c.addBlacklist(strings.TrimSpace(name), source)
			}
			continue
		}
		opt := param
		if a.HasValue {
			opt += "=" + quoteParam(a.Value)
		}
		c.options = append(c.options, configOption{module, opt, source})
	}
}

// quoteParam quotes a parameter value that contains blanks, so the kernel's parser, which sees
// the module's parameters as one string, keeps it whole.
func quoteParam(v string) string {
	if strings.IndexFunc(v, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }) < 0 {
		return v
	}
	return `"` + v + `"`
}
