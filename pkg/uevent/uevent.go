package uevent

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Actions the kernel sends (lib/kobject_uevent.c, kobject_actions). Parse accepts any lowercase
// action word so a newer kernel's additions still parse; these are the ones callers act on.
const (
	ActionAdd     = "add"
	ActionRemove  = "remove"
	ActionChange  = "change"
	ActionMove    = "move"
	ActionOnline  = "online"
	ActionOffline = "offline"
	ActionBind    = "bind"
	ActionUnbind  = "unbind"
)

// MaxSize is the largest message Parse accepts. The kernel builds a uevent in a 2048-byte
// environment buffer (UEVENT_BUFFER_SIZE) plus the header, so anything much larger is not from
// the kernel.
const MaxSize = 8192

// ErrLibudev is wrapped by Parse's error for a libudev monitor message: udev re-broadcasts events
// on its own multicast group with a "libudev\x00" binary header. Those come from a user process,
// not from the kernel, and are never acted on.
var ErrLibudev = errors.New("libudev monitor message, not a kernel uevent")

// ErrMalformed is wrapped by every other error Parse returns: the bytes are not a kernel uevent.
var ErrMalformed = errors.New("malformed uevent")

// Event is one parsed kernel uevent.
type Event struct {
	// Action is the header's action word, e.g. "add".
	Action string
	// DevPath is the device's path below /sys, e.g. "/devices/pci0000:00/0000:00:03.0".
	DevPath string
	// Subsystem is the SUBSYSTEM variable, e.g. "pci", or "" when absent.
	Subsystem string
	// Modalias is the MODALIAS variable, or "" when the device has none.
	Modalias string
	// Seqnum is the SEQNUM variable, the kernel's event counter, or 0 when absent.
	Seqnum uint64
	// env holds the message's variables as the kernel sent them, "KEY=VALUE" fields separated
	// by NUL bytes (empty fields included). Get and Vars read it: most events are only looked
	// at through the fields above, so no map is built for them.
	env string
}

// Get returns the value of variable key, or "" when the message has none.
func (e *Event) Get(key string) string {
	v, _ := e.Lookup(key)
	return v
}

// Lookup returns the value of variable key and whether the message has it.
func (e *Event) Lookup(key string) (string, bool) {
	for k, v := range e.vars() {
		if k == key {
			return v, true
		}
	}
	return "", false
}

// Vars returns every KEY=VALUE variable of the message, the ones in Event's fields included,
// as a new map.
func (e *Event) Vars() map[string]string {
	return maps.Collect(e.vars())
}

// vars yields the message's variables in order (Parse has checked them).
func (e *Event) vars() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for rest := e.env; rest != ""; {
			var f string
			f, rest, _ = strings.Cut(rest, "\x00")
			if k, v, ok := strings.Cut(f, "="); ok && !yield(k, v) {
				return
			}
		}
	}
}

// String formats the event the way `udevadm monitor --kernel` prints it.
func (e *Event) String() string {
	s := fmt.Sprintf("KERNEL[%d] %s %s (%s)", e.Seqnum, e.Action, e.DevPath, e.Subsystem)
	if e.Modalias != "" {
		s += " " + e.Modalias
	}
	return s
}

var libudevMagic = []byte("libudev\x00")

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Parse parses one netlink datagram as a kernel uevent. It refuses libudev messages (wrapping
// ErrLibudev) and anything else that is not "ACTION@DEVPATH\x00KEY=VALUE\x00..." with consistent
// ACTION, DEVPATH and a numeric SEQNUM (wrapping ErrMalformed). The returned Event does not
// refer to b. It makes two allocations, the Event and one copy of the message, whatever the
// number of variables: a boot brings hundreds of uevents, most of which only their header and
// SEQNUM concern.
func Parse(b []byte) (*Event, error) {
	switch {
	case len(b) == 0:
		return nil, malformed("empty message")
	case bytes.HasPrefix(b, libudevMagic):
		return nil, fmt.Errorf("uevent: %w (sent by a udev daemon on group 2; listen to group 1 for the kernel)", ErrLibudev)
	case len(b) > MaxSize:
		return nil, malformed("%d bytes, more than the %d a kernel uevent can have", len(b), MaxSize)
	}
	msg := string(b)
	header, env, _ := strings.Cut(msg, "\x00")
	action, devPath, ok := strings.Cut(header, "@")
	if !ok {
		return nil, malformed("header %q has no '@' (want ACTION@DEVPATH)", clip(header))
	}
	e := &Event{Action: action, DevPath: devPath, env: env}
	if err := checkAction(e.Action); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(e.DevPath, "/") || strings.ContainsAny(e.DevPath, "\n\r") {
		return nil, malformed("header %q: device path must start with '/'", clip(header))
	}
	// The keys so far, to refuse a duplicate: a list while short (kernel events have 5 to 20
	// variables), a set past dupLookBack.
	var short [dupLookBack]string
	keys := short[:0]
	var seen map[string]bool
	for i, rest := 1, env; rest != ""; i++ {
		var f string
		f, rest, _ = strings.Cut(rest, "\x00")
		if f == "" {
			continue // the final terminator, or a stray empty field
		}
		key, val, ok := strings.Cut(f, "=")
		if !ok || key == "" {
			return nil, malformed("field %d %q is not KEY=VALUE", i, clip(f))
		}
		if err := checkKey(key); err != nil {
			return nil, err
		}
		if seen == nil && len(keys) == dupLookBack {
			seen = make(map[string]bool, 2*dupLookBack)
			for _, k := range keys {
				seen[k] = true
			}
		}
		if seen != nil && seen[key] || seen == nil && slices.Contains(keys, key) {
			return nil, malformed("variable %s appears twice", key)
		}
		if seen != nil {
			seen[key] = true
		} else {
			keys = append(keys, key)
		}
		switch key {
		case "ACTION":
			if val != e.Action {
				return nil, malformed("header action %q but ACTION=%q", e.Action, clip(val))
			}
		case "DEVPATH":
			if val != e.DevPath {
				return nil, malformed("header path %q but DEVPATH=%q", clip(e.DevPath), clip(val))
			}
		case "SEQNUM":
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return nil, malformed("SEQNUM=%q is not a number", clip(val))
			}
			e.Seqnum = n
		case "SUBSYSTEM":
			e.Subsystem = val
		case "MODALIAS":
			e.Modalias = val
		}
	}
	return e, nil
}

// dupLookBack is how many keys Parse compares a key against one by one before it keeps a set.
const dupLookBack = 32

// checkAction accepts a lowercase word, as every kernel action is.
func checkAction(a string) error {
	if a == "" || len(a) > 32 {
		return malformed("action %q is not a kernel action word", clip(a))
	}
	for i := 0; i < len(a); i++ {
		if a[i] < 'a' || a[i] > 'z' {
			return malformed("action %q is not a kernel action word", clip(a))
		}
	}
	return nil
}

// checkKey accepts the variable names the kernel and drivers use: uppercase letters, digits and
// '_' (a few drivers use lowercase, so those are accepted too).
func checkKey(k string) error {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return malformed("variable name %q has byte %#x", clip(k), c)
		}
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
