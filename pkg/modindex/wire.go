package modindex

import (
	"errors"
	"fmt"
)

// This file reads the protobuf wire format: the few primitives Decode needs. It stands in for
// google.golang.org/protobuf/encoding/protowire, whose import pulls in a package that hashes
// the running executable at start-up; modload and coldplug run at every boot, so they read
// meta.pb with these instead. The tests compare them with protowire.

// wireType is a protobuf wire type.
type wireType int8

const (
	varintType  wireType = 0
	fixed64Type wireType = 1
	bytesType   wireType = 2
	fixed32Type wireType = 5
)

// errWire is returned for bytes that are not protobuf wire format.
var errWire = errors.New("malformed protobuf wire data")

// consumeVarint decodes a varint at the start of b; n < 0 means malformed or truncated.
func consumeVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, -1 // overflows 64 bits
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// consumeTag decodes a field tag: its number and wire type.
func consumeTag(b []byte) (num int32, typ wireType, n int) {
	v, n := consumeVarint(b)
	if n < 0 || v>>3 == 0 || v>>3 > 1<<31-1 {
		return 0, 0, -1
	}
	return int32(v >> 3), wireType(v & 7), n
}

// consumeBytes decodes a length-delimited value.
func consumeBytes(b []byte) (v []byte, n int) {
	l, n := consumeVarint(b)
	if n < 0 || l > uint64(len(b)-n) {
		return nil, -1
	}
	return b[n : n+int(l)], n + int(l)
}

// skipValue returns the length of a value of type typ at the start of b, or -1. Groups (wire
// types 3 and 4), which meta.proto never uses, are refused.
func skipValue(typ wireType, b []byte) int {
	switch typ {
	case varintType:
		_, n := consumeVarint(b)
		return n
	case fixed64Type:
		if len(b) < 8 {
			return -1
		}
		return 8
	case fixed32Type:
		if len(b) < 4 {
			return -1
		}
		return 4
	case bytesType:
		_, n := consumeBytes(b)
		return n
	}
	return -1
}

// wireError describes a failed read at a field.
func wireError(what string, num int32) error {
	return fmt.Errorf("%s of field %d: %w", what, num, errWire)
}
