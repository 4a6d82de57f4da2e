package ungzip

import (
	"encoding/binary"
	"sync"
)

// The CRC-32 of gzip is the IEEE 802.3 one (reflected polynomial 0xEDB88320), computed here
// with slicing-by-16 tables (16 KiB) that are built on first use, not at program start:
// hash/crc32 is not imported, so a binary linking this package pays nothing for the CRC
// until it decodes.

var (
	crcOnce   sync.Once
	crcTables *[16][256]uint32
)

// crcTable returns the slicing tables, building them on the first call: t[0] is the classic
// byte-at-a-time table, t[k][b] the CRC of byte b followed by k zero bytes.
func crcTable() *[16][256]uint32 {
	crcOnce.Do(func() {
		t := new([16][256]uint32)
		for i := range 256 {
			c := uint32(i)
			for range 8 {
				c = c>>1 ^ 0xEDB88320&-(c&1)
			}
			t[0][i] = c
		}
		for i := range 256 {
			c := t[0][i]
			for k := 1; k < 16; k++ {
				c = t[0][c&0xFF] ^ c>>8
				t[k][i] = c
			}
		}
		crcTables = t
	})
	return crcTables
}

// crc32Update returns the CRC-32 (IEEE) of the bytes whose CRC so far is crc followed by p.
func crc32Update(crc uint32, p []byte) uint32 {
	t := crcTable()
	crc = ^crc
	for len(p) >= 16 {
		a := crc ^ binary.LittleEndian.Uint32(p)
		b := binary.LittleEndian.Uint32(p[4:])
		c := binary.LittleEndian.Uint32(p[8:])
		d := binary.LittleEndian.Uint32(p[12:])
		crc = t[15][a&0xFF] ^ t[14][a>>8&0xFF] ^ t[13][a>>16&0xFF] ^ t[12][a>>24] ^
			t[11][b&0xFF] ^ t[10][b>>8&0xFF] ^ t[9][b>>16&0xFF] ^ t[8][b>>24] ^
			t[7][c&0xFF] ^ t[6][c>>8&0xFF] ^ t[5][c>>16&0xFF] ^ t[4][c>>24] ^
			t[3][d&0xFF] ^ t[2][d>>8&0xFF] ^ t[1][d>>16&0xFF] ^ t[0][d>>24]
		p = p[16:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return ^crc
}
