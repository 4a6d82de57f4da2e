package bootparam

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kmodboot/kmodboot/pkg/blockid"
)

// Bounds on waiting for the root device. The kernel waits forever with rootwait; an init that
// can print a useful message and open a rescue shell instead must give up at some point.
const (
	// DefaultRootWait is how long the root device is polled for without rootwait.
	DefaultRootWait = 10 * time.Second
	// DefaultRootWaitFlag is the bound for a bare "rootwait".
	DefaultRootWaitFlag = 60 * time.Second
	// DefaultColdplugTimeout bounds each coldplug run unless kmodboot.coldplug_timeout= is set.
	DefaultColdplugTimeout = 30 * time.Second
)

// CPUFeaturePolicies are the values kmodboot.cpu_features= takes: when coldplug loads the
// modules for CPU features (see pkg/coldplug's CPUFeaturePolicy).
var CPUFeaturePolicies = []string{"when-idle", "after-devices", "with-devices"}

// DefaultInits are tried in order when init= is absent, as the kernel does.
var DefaultInits = []string{"/sbin/init", "/etc/init", "/bin/init", "/bin/sh"}

// Params is what the init takes from the kernel command line.
type Params struct {
	// Root is root=; its zero value means root= was not given.
	Root blockid.Spec
	// RootFSTypes is rootfstype= split at commas; empty means "probe the superblock".
	RootFSTypes []string
	// RootFlags is rootflags= as written (see MountOptions).
	RootFlags string
	// ReadOnly is true unless "rw" is given (the last of ro/rw wins).
	ReadOnly bool
	// RootWait is how long to poll for the root device.
	RootWait time.Duration
	// RootDelay is rootdelay=: a pause before looking for the root device at all.
	RootDelay time.Duration
	// Init is init=, or "" to try DefaultInits.
	Init string
	// InitArgs are the words after "--", passed to the new init.
	InitArgs []string
	// IP is ip=/nfsaddrs=; nil when absent or "off"/"none".
	IP *IPConfig

	// Coldplug is false when kmodboot.coldplug=0 disables running coldplug.
	Coldplug bool
	// ColdplugTimeout is kmodboot.coldplug_timeout=.
	ColdplugTimeout time.Duration
	// ColdplugVerbose is kmodboot.verbose: pass -v to coldplug.
	ColdplugVerbose bool
	// ColdplugCPUFeatures is kmodboot.cpu_features=: coldplug's -cpu-features policy (one of
	// CPUFeaturePolicies), or "" for coldplug's default.
	ColdplugCPUFeatures string
	// Rescue is kmodboot.rescue: stop in the rescue shell instead of switching root.
	Rescue bool
}

// Error is a malformed parameter. Parse collects them instead of stopping at the first, so the
// init can report every one and still boot with the rest.
type Error struct {
	Param string // the parameter as written, e.g. "rootwait=abc"
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("kernel parameter %q: %v", e.Param, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Parse reads a kernel command line (the content of /proc/cmdline). It always returns usable
// Params; malformed parameters are skipped and returned as *Error values, and the caller
// decides whether they are fatal (a bad root= is, a bad rootdelay= is not).
func Parse(cmdline string) (*Params, []error) {
	p := &Params{
		ReadOnly:        true,
		RootWait:        DefaultRootWait,
		Coldplug:        true,
		ColdplugTimeout: DefaultColdplugTimeout,
	}
	var errs []error
	bad := func(param string, err error) { errs = append(errs, &Error{Param: param, Err: err}) }
	words, initArgs := Split(cmdline)
	p.InitArgs = initArgs
	for _, w := range words {
		key, val, hasVal := strings.Cut(w, "=")
		switch key {
		case "root":
			s, err := blockid.ParseSpec(val)
			if err != nil {
				bad(w, err)
				continue
			}
			p.Root = s
		case "rootfstype":
			p.RootFSTypes = nil
			for _, t := range strings.Split(val, ",") {
				if t != "" {
					p.RootFSTypes = append(p.RootFSTypes, t)
				}
			}
		case "rootflags":
			p.RootFlags = val
		case "ro":
			if !hasVal {
				p.ReadOnly = true
			}
		case "rw":
			if !hasVal {
				p.ReadOnly = false
			}
		case "rootwait":
			if !hasVal {
				p.RootWait = DefaultRootWaitFlag
				continue
			}
			d, err := seconds(val)
			if err != nil {
				bad(w, err)
				continue
			}
			p.RootWait = d
		case "rootdelay":
			d, err := seconds(val)
			if err != nil {
				bad(w, err)
				continue
			}
			p.RootDelay = d
		case "init":
			if !strings.HasPrefix(val, "/") {
				bad(w, fmt.Errorf("init must be an absolute path"))
				continue
			}
			p.Init = val
		case "ip", "nfsaddrs":
			ip, err := ParseIP(val)
			if err != nil {
				bad(w, err)
				continue
			}
			p.IP = ip
		case "kmodboot.coldplug":
			b, err := boolValue(val, hasVal)
			if err != nil {
				bad(w, err)
				continue
			}
			p.Coldplug = b
		case "kmodboot.coldplug_timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				bad(w, fmt.Errorf("want a positive duration such as 20s"))
				continue
			}
			p.ColdplugTimeout = d
		case "kmodboot.verbose":
			b, err := boolValue(val, hasVal)
			if err != nil {
				bad(w, err)
				continue
			}
			p.ColdplugVerbose = b
		case "kmodboot.cpu_features":
			if !slices.Contains(CPUFeaturePolicies, val) {
				bad(w, fmt.Errorf("want one of %s", strings.Join(CPUFeaturePolicies, ", ")))
				continue
			}
			p.ColdplugCPUFeatures = val
		case "kmodboot.rescue":
			b, err := boolValue(val, hasVal)
			if err != nil {
				bad(w, err)
				continue
			}
			p.Rescue = b
		}
	}
	return p, errs
}

// seconds parses the kernel's integer seconds (rootwait=, rootdelay=); a Go duration such as
// "1500ms" is accepted too.
func seconds(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("want a number of seconds")
}

func boolValue(v string, hasVal bool) (bool, error) {
	if !hasVal {
		return true, nil
	}
	switch strings.ToLower(v) {
	case "1", "y", "yes", "on", "true":
		return true, nil
	case "0", "n", "no", "off", "false":
		return false, nil
	}
	return false, fmt.Errorf("want 1/0, y/n, on/off or true/false")
}

// Split splits a kernel command line into parameters the way the kernel's next_arg does:
// spaces (and tabs and newlines) separate, double quotes group and are removed. Words after a
// standalone "--" are returned separately: the kernel hands them to init.
func Split(cmdline string) (params, initArgs []string) {
	var cur strings.Builder
	inQuote, have := false, false
	afterDashes := false
	flush := func() {
		if !have {
			return
		}
		w := cur.String()
		cur.Reset()
		have = false
		if afterDashes {
			initArgs = append(initArgs, w)
			return
		}
		if w == "--" {
			afterDashes = true
			return
		}
		params = append(params, w)
	}
	for _, r := range cmdline {
		switch {
		case r == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && (r == ' ' || r == '\t' || r == '\n'):
			flush()
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	flush()
	return params, initArgs
}
