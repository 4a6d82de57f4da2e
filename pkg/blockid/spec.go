package blockid

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Kind says which property of a block device a Spec names.
type Kind int

// The kinds of Spec, after the forms root= accepts.
const (
	// KindNone is the zero Spec: nothing was asked for.
	KindNone Kind = iota
	// KindPath names a device node, e.g. /dev/vda1.
	KindPath
	// KindDevNum names a device by its major and minor number.
	KindDevNum
	// KindLabel names a filesystem label (LABEL=).
	KindLabel
	// KindUUID names a filesystem UUID (UUID=).
	KindUUID
	// KindPartUUID names a partition UUID (PARTUUID=), GPT or MBR.
	KindPartUUID
	// KindPartLabel names a GPT partition name (PARTLABEL=).
	KindPartLabel
)

// String returns the root= prefix of the kind, or "path"/"device number".
func (k Kind) String() string {
	switch k {
	case KindPath:
		return "path"
	case KindDevNum:
		return "device number"
	case KindLabel:
		return "LABEL"
	case KindUUID:
		return "UUID"
	case KindPartUUID:
		return "PARTUUID"
	case KindPartLabel:
		return "PARTLABEL"
	}
	return "none"
}

// Spec is a parsed device specification such as root=LABEL=root.
type Spec struct {
	// Kind says which property Value names.
	Kind Kind
	// Value is the path, label, UUID or partition name. UUIDs are lower case.
	Value string
	// Major and Minor are set for KindDevNum.
	Major, Minor uint32
	// PartOffset is the /PARTNROFF=n of a PARTUUID: the device meant is partition
	// (number of the partition with that UUID + PartOffset) of the same disk.
	PartOffset int
	// Text is the specification as written, for messages.
	Text string
}

// IsZero reports whether s names nothing.
func (s Spec) IsZero() bool { return s.Kind == KindNone }

// String returns the specification as written.
func (s Spec) String() string { return s.Text }

// ParseSpec parses a device specification in the forms root= accepts: /dev/NAME, MAJOR:MINOR,
// the kernel's hexadecimal device number (e.g. 801 or fe01), LABEL=, UUID=, PARTUUID= (with an
// optional /PARTNROFF=n) and PARTLABEL=. Prefixes are case-sensitive, as in the kernel.
func ParseSpec(text string) (Spec, error) {
	s := Spec{Text: text}
	if text == "" {
		return s, fmt.Errorf("device specification is empty: want /dev/NAME, LABEL=, UUID=, PARTUUID= or PARTLABEL=")
	}
	key, val, hasEq := strings.Cut(text, "=")
	if hasEq {
		if val == "" {
			return s, fmt.Errorf("device specification %q: %s= has no value", text, key)
		}
		switch key {
		case "LABEL":
			s.Kind, s.Value = KindLabel, unescape(val)
		case "UUID":
			s.Kind, s.Value = KindUUID, strings.ToLower(val)
		case "PARTLABEL":
			s.Kind, s.Value = KindPartLabel, unescape(val)
		case "PARTUUID":
			u, off, err := parsePartUUID(val)
			if err != nil {
				return s, fmt.Errorf("device specification %q: %w", text, err)
			}
			s.Kind, s.Value, s.PartOffset = KindPartUUID, u, off
		default:
			return s, fmt.Errorf("device specification %q: unknown key %q (want LABEL, UUID, PARTUUID or PARTLABEL)", text, key)
		}
		return s, nil
	}
	if strings.HasPrefix(text, "/") {
		p := path.Clean(text)
		if p == "/" || p == "/dev" {
			return s, fmt.Errorf("device specification %q names no device", text)
		}
		s.Kind, s.Value = KindPath, p
		return s, nil
	}
	if maj, min, ok := strings.Cut(text, ":"); ok {
		ma, err1 := strconv.ParseUint(maj, 10, 32)
		mi, err2 := strconv.ParseUint(min, 10, 32)
		if err1 != nil || err2 != nil {
			return s, fmt.Errorf("device specification %q: want MAJOR:MINOR in decimal", text)
		}
		s.Kind, s.Major, s.Minor = KindDevNum, uint32(ma), uint32(mi)
		return s, nil
	}
	// The kernel's old encoding: hexadecimal, minor in the low 8 bits.
	if n, err := strconv.ParseUint(text, 16, 32); err == nil {
		s.Kind, s.Major, s.Minor = KindDevNum, uint32(n>>8), uint32(n&0xff)
		return s, nil
	}
	return s, fmt.Errorf("device specification %q: want /dev/NAME, MAJOR:MINOR, LABEL=, UUID=, PARTUUID= or PARTLABEL=", text)
}

// parsePartUUID splits "UUID[/PARTNROFF=n]".
func parsePartUUID(val string) (string, int, error) {
	u, rest, hasOff := strings.Cut(val, "/")
	if u == "" {
		return "", 0, fmt.Errorf("PARTUUID= has no UUID")
	}
	off := 0
	if hasOff {
		n, ok := strings.CutPrefix(rest, "PARTNROFF=")
		if !ok {
			return "", 0, fmt.Errorf("PARTUUID suffix %q: want /PARTNROFF=n", rest)
		}
		v, err := strconv.Atoi(n)
		if err != nil {
			return "", 0, fmt.Errorf("PARTNROFF=%q is not an integer", n)
		}
		off = v
	}
	return strings.ToLower(u), off, nil
}

// unescape decodes the \xHH escapes udev uses in /dev/disk/by-label names, so a label with a
// space can be written LABEL=my\x20disk as well as "LABEL=my disk".
func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Match reports whether d is the device s names. A KindPartUUID spec with a PartOffset is
// resolved by Find, which needs the sibling partitions; Match compares the UUID only.
func (s Spec) Match(d *Device) bool {
	switch s.Kind {
	case KindPath:
		return s.Value == d.Path || s.Value == "/dev/"+d.Name
	case KindDevNum:
		return s.Major == d.Major && s.Minor == d.Minor
	case KindLabel:
		return d.FS != nil && d.FS.Label != "" && d.FS.Label == s.Value
	case KindUUID:
		return d.FS != nil && d.FS.UUID != "" && strings.EqualFold(d.FS.UUID, s.Value)
	case KindPartUUID:
		return d.PartUUID != "" && strings.EqualFold(d.PartUUID, s.Value)
	case KindPartLabel:
		return d.PartLabel != "" && d.PartLabel == s.Value
	}
	return false
}

// Find returns the devices that s names, in the order of devs. For PARTUUID with
// /PARTNROFF=n it returns the partition n numbers after the one with that UUID, on the same
// disk. More than one result means the specification is ambiguous (two disks with one label).
func Find(devs []Device, s Spec) []Device {
	var out []Device
	for i := range devs {
		d := &devs[i]
		if !s.Match(d) {
			continue
		}
		if s.Kind == KindPartUUID && s.PartOffset != 0 {
			want := d.PartNumber + s.PartOffset
			for j := range devs {
				if devs[j].Parent == d.Parent && devs[j].PartNumber == want && devs[j].Partition {
					out = append(out, devs[j])
				}
			}
			continue
		}
		out = append(out, *d)
	}
	return out
}
