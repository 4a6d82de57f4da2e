package uevent

import (
	"bytes"
	"errors"
	"fmt"
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
	// Vars holds every KEY=VALUE variable of the message, the ones above included.
	Vars map[string]string
}

// Get returns the value of variable key, or "" when the message has none.
func (e *Event) Get(key string) string { return e.Vars[key] }

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
// refer to b.
func Parse(b []byte) (*Event, error) {
	switch {
	case len(b) == 0:
		return nil, malformed("empty message")
	case bytes.HasPrefix(b, libudevMagic):
		return nil, fmt.Errorf("uevent: %w (sent by a udev daemon on group 2; listen to group 1 for the kernel)", ErrLibudev)
	case len(b) > MaxSize:
		return nil, malformed("%d bytes, more than the %d a kernel uevent can have", len(b), MaxSize)
	}
	fields := strings.Split(string(b), "\x00")
	header := fields[0]
	at := strings.IndexByte(header, '@')
	if at < 0 {
		return nil, malformed("header %q has no '@' (want ACTION@DEVPATH)", clip(header))
	}
	e := &Event{Action: header[:at], DevPath: header[at+1:], Vars: make(map[string]string, len(fields))}
	if err := checkAction(e.Action); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(e.DevPath, "/") || strings.ContainsAny(e.DevPath, "\n\r") {
		return nil, malformed("header %q: device path must start with '/'", clip(header))
	}
	for i, f := range fields[1:] {
		if f == "" {
			continue // the final terminator, or a stray empty field
		}
		eq := strings.IndexByte(f, '=')
		if eq <= 0 {
			return nil, malformed("field %d %q is not KEY=VALUE", i+1, clip(f))
		}
		key, val := f[:eq], f[eq+1:]
		if err := checkKey(key); err != nil {
			return nil, err
		}
		if _, dup := e.Vars[key]; dup {
			return nil, malformed("variable %s appears twice", key)
		}
		e.Vars[key] = val
	}
	if a, ok := e.Vars["ACTION"]; ok && a != e.Action {
		return nil, malformed("header action %q but ACTION=%q", e.Action, clip(a))
	}
	if p, ok := e.Vars["DEVPATH"]; ok && p != e.DevPath {
		return nil, malformed("header path %q but DEVPATH=%q", clip(e.DevPath), clip(p))
	}
	if s, ok := e.Vars["SEQNUM"]; ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, malformed("SEQNUM=%q is not a number", clip(s))
		}
		e.Seqnum = n
	}
	e.Subsystem = e.Vars["SUBSYSTEM"]
	e.Modalias = e.Vars["MODALIAS"]
	return e, nil
}

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
