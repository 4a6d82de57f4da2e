package modindex

import (
	"fmt"
)

// FormatVersion is the meta.pb format version this package reads; it equals spec.FormatVersion
// (a test keeps them equal). The package reads meta.pb with its own wire reader instead of the generated
// spec types, so programs that only use an index skip the protobuf descriptor set-up at start.
const FormatVersion = 1

// Module is one module of the index: meta.proto's Module message, field for field. Its
// getters are nil-safe, like generated protobuf getters.
type Module struct {
	// Name is the module name, '-' spelled '_'.
	Name string
	// Path is the module file relative to the module root; "" for a built-in module.
	Path string
	// Builtin is true for a module compiled into the kernel.
	Builtin bool
	// Depends holds the indices of the module's direct hard dependencies.
	Depends []uint32
	// SoftdepPre lists names or aliases to load before the module.
	SoftdepPre []string
	// SoftdepPost lists names or aliases to load after it.
	SoftdepPost []string
	// Firmware lists the firmware files the module may request.
	Firmware []string
	// Size is the module file's size in bytes.
	Size uint64
	// BuiltinUnlisted is true for a built-in module modules.builtin does not list: its aliases
	// resolve, its name does not (as in kmod).
	BuiltinUnlisted bool
}

// GetName returns m.Name, or "" for a nil m.
func (m *Module) GetName() string {
	if m == nil {
		return ""
	}
	return m.Name
}

// GetPath returns m.Path, or "" for a nil m.
func (m *Module) GetPath() string {
	if m == nil {
		return ""
	}
	return m.Path
}

// GetBuiltin returns m.Builtin, or false for a nil m.
func (m *Module) GetBuiltin() bool { return m != nil && m.Builtin }

// GetDepends returns m.Depends, or nil for a nil m.
func (m *Module) GetDepends() []uint32 {
	if m == nil {
		return nil
	}
	return m.Depends
}

// GetSoftdepPre returns m.SoftdepPre, or nil for a nil m.
func (m *Module) GetSoftdepPre() []string {
	if m == nil {
		return nil
	}
	return m.SoftdepPre
}

// GetSoftdepPost returns m.SoftdepPost, or nil for a nil m.
func (m *Module) GetSoftdepPost() []string {
	if m == nil {
		return nil
	}
	return m.SoftdepPost
}

// GetFirmware returns m.Firmware, or nil for a nil m.
func (m *Module) GetFirmware() []string {
	if m == nil {
		return nil
	}
	return m.Firmware
}

// GetSize returns m.Size, or 0 for a nil m.
func (m *Module) GetSize() uint64 {
	if m == nil {
		return 0
	}
	return m.Size
}

// decodeModule decodes a Module message; its strings share b's memory (see inPlace). Field
// numbers are meta.proto's; fields it does not know are skipped, as protobuf readers do.
func decodeModule(b []byte) (*Module, error) {
	m := new(Module)
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return nil, errWire
		}
		b = b[n:]
		switch {
		case num == 1 || num == 2 || num == 5 || num == 6 || num == 7:
			if typ != bytesType {
				return nil, fmt.Errorf("field %d has wire type %d, want bytes", num, typ)
			}
			v, n := consumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("field %d: %v", num, errWire)
			}
			b = b[n:]
			s := inPlace(v)
			switch num {
			case 1:
				m.Name = s
			case 2:
				m.Path = s
			case 5:
				m.SoftdepPre = append(m.SoftdepPre, s)
			case 6:
				m.SoftdepPost = append(m.SoftdepPost, s)
			case 7:
				m.Firmware = append(m.Firmware, s)
			}
		case (num == 3 || num == 8 || num == 9) && typ == varintType:
			v, n := consumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("field %d: %v", num, errWire)
			}
			b = b[n:]
			switch num {
			case 3:
				m.Builtin = v != 0
			case 8:
				m.Size = v
			case 9:
				m.BuiltinUnlisted = v != 0
			}
		case num == 4 && typ == bytesType: // packed, as proto3 writes it
			v, n := consumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("depends: %v", errWire)
			}
			b = b[n:]
			for len(v) > 0 {
				d, k := consumeVarint(v)
				if k < 0 || d > 1<<32-1 {
					return nil, fmt.Errorf("depends: bad index")
				}
				m.Depends = append(m.Depends, uint32(d))
				v = v[k:]
			}
		case num == 4 && typ == varintType: // unpacked, as proto2 writers may
			d, n := consumeVarint(b)
			if n < 0 || d > 1<<32-1 {
				return nil, fmt.Errorf("depends: bad index")
			}
			m.Depends = append(m.Depends, uint32(d))
			b = b[n:]
		case num >= 1 && num <= 9:
			return nil, fmt.Errorf("field %d has wire type %d", num, typ)
		default:
			n := skipValue(typ, b)
			if n < 0 {
				return nil, fmt.Errorf("field %d: %v", num, errWire)
			}
			b = b[n:]
		}
	}
	return m, nil
}
