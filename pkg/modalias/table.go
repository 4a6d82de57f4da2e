package modalias

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"strings"
	"unsafe"
)

// ErrCorrupt is wrapped by NewTable's errors for a table whose records point outside their
// arrays or contradict each other. Rebuilding meta.pb is the fix.
var ErrCorrupt = errors.New("corrupt match table")

// ErrLayout is wrapped by NewTable's error for a table written with a record layout this
// build does not read. Rebuilding meta.pb with the same kmodboot version is the fix.
var ErrLayout = errors.New("unsupported match table layout")

// maxProbe bounds the slots a gram lookup visits. Build sizes every gram table so that no run
// of occupied slots is longer, so valid tables never need more; corrupt ones cannot make a
// lookup loop.
const maxProbe = 32

// maxGramBits bounds a gram table to 2^maxGramBits slots.
const maxGramBits = 24

// Hit is one (pattern, module) pair that matched an alias.
type Hit struct {
	// Pattern is the normalized pattern that matched.
	Pattern string
	// Module is the module's index in Index.modules.
	Module uint32
	// Builtin is true when the pattern belongs to a module compiled into the kernel.
	Builtin bool
}

// Arrays are a match table as meta.pb's MatchTable message stores it, field for field (the Go
// names are those of spec.MatchTable). The package does not import spec: programs that only
// match, such as modload and coldplug, then skip the protobuf descriptor set-up at start.
type Arrays struct {
	Layout       uint32
	Strings      []byte
	Nodes        []byte
	Edges        []byte
	Patterns     []byte
	PatternCount uint32
	Grams        []byte
}

// Table is a match table read in place from its Arrays.
// It is immutable and safe for concurrent use.
type Table struct {
	str                    string // the strings pool, sharing memory with the MatchTable
	nodes, edges, pats, gr []byte
	nNodes, nPats, nSlots  int
}

// NewTable returns a Table that reads a's arrays in place, without copying or rebuilding
// anything: every modload and coldplug process opens the whole table to answer a few lookups.
//
// NewTable checks only what costs nothing: the layout version and that the arrays' sizes fit
// their record sizes. The records' offsets are checked where Lookup uses them (a corrupt
// table makes Lookup return an ErrCorrupt error, never panic or loop), and Validate checks
// them all at once, for tools that write or vet a table. The Table keeps references to a's
// byte slices: they must not be modified afterwards.
func NewTable(a Arrays) (*Table, error) {
	mt := &a
	if mt.Layout != Layout {
		return nil, fmt.Errorf("match table layout %d, this kmodboot reads layout %d: rebuild meta.pb: %w",
			mt.Layout, Layout, ErrLayout)
	}
	t := &Table{nodes: mt.Nodes, edges: mt.Edges, pats: mt.Patterns, gr: mt.Grams}
	if len(mt.Strings) > 0 {
		t.str = unsafe.String(&mt.Strings[0], len(mt.Strings))
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("match table: "+format+": %w; rebuild meta.pb", append(args, ErrCorrupt)...)
	}
	if len(t.nodes) == 0 || len(t.nodes)%nodeSize != 0 {
		return nil, corrupt("nodes is %d bytes, want a positive multiple of %d", len(t.nodes), nodeSize)
	}
	t.nNodes = len(t.nodes) / nodeSize
	if len(t.edges) != t.nNodes {
		return nil, corrupt("edges has %d bytes for %d nodes", len(t.edges), t.nNodes)
	}
	if uint64(len(t.pats)) != uint64(mt.PatternCount)*patternSize {
		return nil, corrupt("patterns is %d bytes for pattern_count %d", len(t.pats), mt.PatternCount)
	}
	t.nPats = int(mt.PatternCount)
	if len(t.gr)%slotSize != 0 {
		return nil, corrupt("grams is %d bytes, not a multiple of %d", len(t.gr), slotSize)
	}
	t.nSlots = len(t.gr) / slotSize
	return t, nil
}

// Validate checks every record of the table: offsets and counts inside their arrays, children
// after their parents, patterns in node order. (Semantic consistency, such as an edge byte equal
// to its label's first byte, is not checked: a table that is inconsistent but in bounds gives
// wrong answers, never a panic.)
func (t *Table) Validate() error {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("match table: "+format+": %w; rebuild meta.pb", append(args, ErrCorrupt)...)
	}
	strLen := uint64(len(t.str))
	prevPat := uint64(0)
	for i := range t.nNodes {
		rec := t.nodes[i*nodeSize : i*nodeSize+nodeSize]
		labelOff := uint64(binary.LittleEndian.Uint32(rec[0:]))
		lc := binary.LittleEndian.Uint32(rec[4:])
		labelLen, childCount := uint64(lc&0xffff), uint64(lc>>16)
		firstChild := uint64(binary.LittleEndian.Uint32(rec[8:]))
		patStart := uint64(binary.LittleEndian.Uint32(rec[12:]))
		exact := uint64(binary.LittleEndian.Uint32(rec[16:]))
		scan := uint64(binary.LittleEndian.Uint32(rec[20:]))
		gw := binary.LittleEndian.Uint32(rec[24:])
		gramStart, gramBits := uint64(gw&(maxSlots-1)), uint64(gw>>24)
		patEnd := uint64(t.nPats)
		if i+1 < t.nNodes {
			patEnd = uint64(binary.LittleEndian.Uint32(t.nodes[(i+1)*nodeSize+12:]))
		}
		switch {
		case labelOff+labelLen > strLen:
			return corrupt("node %d: label [%d,+%d) outside the %d-byte strings", i, labelOff, labelLen, strLen)
		case (i == 0) != (labelLen == 0):
			return corrupt("node %d: label length %d (only the root has an empty label)", i, labelLen)
		case childCount > 0 && (childCount > 256 || firstChild <= uint64(i) || firstChild+childCount > uint64(t.nNodes)):
			return corrupt("node %d: children [%d,+%d) invalid for %d nodes", i, firstChild, childCount, t.nNodes)
		case patStart < prevPat || patStart > patEnd || patEnd > uint64(t.nPats) || exact+scan > patEnd-patStart:
			return corrupt("node %d: patterns [%d,%d) (%d exact, %d scanned) invalid for %d records",
				i, patStart, patEnd, exact, scan, t.nPats)
		case gw == 0 && exact+scan != patEnd-patStart:
			return corrupt("node %d: %d anchored patterns but no gram table", i, patEnd-patStart-exact-scan)
		case gw != 0 && (gramBits == 0 || gramBits > maxGramBits || gramStart+1<<gramBits > uint64(t.nSlots)):
			return corrupt("node %d: gram table [%d,+2^%d) outside the %d slots", i, gramStart, gramBits, t.nSlots)
		}
		prevPat = patStart
	}
	for p := range t.nPats {
		rec := t.pats[p*patternSize : p*patternSize+patternSize]
		textOff := uint64(binary.LittleEndian.Uint32(rec[0:]))
		lw := binary.LittleEndian.Uint32(rec[4:])
		if textOff+uint64(lw&0xffff) > strLen || lw>>16 > lw&0xffff {
			return corrupt("pattern %d: text [%d,+%d) (prefix %d) outside the %d-byte strings", p, textOff, lw&0xffff, lw>>16, strLen)
		}
	}
	for s := range t.nSlots {
		rec := t.gr[s*slotSize : s*slotSize+slotSize]
		start := uint64(binary.LittleEndian.Uint32(rec[4:]))
		count := uint64(binary.LittleEndian.Uint32(rec[8:]))
		if start+count > uint64(t.nPats) {
			return corrupt("gram slot %d: patterns [%d,+%d) outside the %d records", s, start, count, t.nPats)
		}
	}
	return nil
}

// Len returns the number of (pattern, module) records in the table.
func (t *Table) Len() int { return t.nPats }

// All yields every record of the table, in table order. On a corrupt table it stops before
// the first record whose text lies outside the strings pool (Validate reports it).
func (t *Table) All() iter.Seq[Hit] {
	return func(yield func(Hit) bool) {
		for p := range t.nPats {
			rec := t.pats[p*patternSize : p*patternSize+patternSize]
			off, lw := uint64(binary.LittleEndian.Uint32(rec[0:])), binary.LittleEndian.Uint32(rec[4:])
			if off+uint64(lw&0xffff) > uint64(len(t.str)) || !yield(t.hit(p)) {
				return
			}
		}
	}
}

// text returns pattern record p's text and its literal prefix length.
func (t *Table) text(p int) (string, int) {
	rec := t.pats[p*patternSize : p*patternSize+patternSize]
	textOff, lw := binary.LittleEndian.Uint32(rec[0:]), binary.LittleEndian.Uint32(rec[4:])
	return t.str[textOff : textOff+lw&0xffff], int(lw >> 16)
}

func (t *Table) hit(p int) Hit {
	text, _ := t.text(p)
	rec := t.pats[p*patternSize : p*patternSize+patternSize]
	return Hit{
		Pattern: text,
		Module:  binary.LittleEndian.Uint32(rec[8:]),
		Builtin: binary.LittleEndian.Uint32(rec[12:])&flagBuiltin != 0,
	}
}

// node is a decoded node record.
type node struct {
	labelOff, labelLen, childCount, firstChild int
	patStart, exact, scan, anchored            int
	gramStart                                  int
	gramBits                                   uint
}

func (t *Table) node(i int) node {
	rec := t.nodes[i*nodeSize : i*nodeSize+nodeSize]
	lc, gw := binary.LittleEndian.Uint32(rec[4:]), binary.LittleEndian.Uint32(rec[24:])
	n := node{
		labelOff:   int(binary.LittleEndian.Uint32(rec[0:])),
		labelLen:   int(lc & 0xffff),
		childCount: int(lc >> 16),
		firstChild: int(binary.LittleEndian.Uint32(rec[8:])),
		patStart:   int(binary.LittleEndian.Uint32(rec[12:])),
		exact:      int(binary.LittleEndian.Uint32(rec[16:])),
		scan:       int(binary.LittleEndian.Uint32(rec[20:])),
		gramStart:  int(gw & (maxSlots - 1)),
		gramBits:   uint(gw >> 24),
	}
	if gw != 0 { // Only nodes with anchored patterns have a gram table.
		patEnd := t.nPats
		if i+1 < t.nNodes {
			patEnd = int(binary.LittleEndian.Uint32(t.nodes[(i+1)*nodeSize+12:]))
		}
		n.anchored = patEnd - n.patStart - n.exact - n.scan
	}
	return n
}

// Lookup appends to dst every (pattern, module) pair whose pattern matches alias, which must
// already be normalized (see Normalize), and returns the extended slice. Hits come in table
// order; a module appears once per pattern of it that matches.
//
// The error is non-nil only for a corrupt table (it wraps ErrCorrupt): NewTable does not check
// every record up front, so Lookup checks what it uses. The walk always moves to a later node,
// so it ends; an offset outside its array is caught by Go's bounds checks, which Lookup turns
// into that error instead of a crash.
func (t *Table) Lookup(alias string, dst []Hit) (hits []Hit, err error) {
	defer func() {
		if r := recover(); r != nil {
			if re, ok := r.(runtime.Error); ok {
				hits, err = dst, fmt.Errorf("match table: lookup of %q: %v: %w; rebuild meta.pb", alias, re, ErrCorrupt)
				return
			}
			panic(r)
		}
	}()
	return t.lookup(alias, dst)
}

func (t *Table) lookup(alias string, dst []Hit) ([]Hit, error) {
	var sm suffixMasks
	cur, d := 0, 0
	for {
		n := t.node(cur)
		if n.exact > 0 && d == len(alias) {
			for p := n.patStart; p < n.patStart+n.exact; p++ {
				if text, _ := t.text(p); text == alias {
					dst = append(dst, t.hit(p))
				}
			}
		}
		if n.scan+n.anchored > 0 {
			mask := sm.at(alias, d)
			for p := n.patStart + n.exact; p < n.patStart+n.exact+n.scan; p++ {
				dst = t.try(p, alias, d, mask, dst)
			}
			if n.anchored > 0 {
				if windows := len(alias) - d - gramLen + 1; windows > probeFactor*n.anchored {
					// A long alias has more windows to hash than the node has patterns to try.
					end := n.patStart + n.exact + n.scan + n.anchored
					for p := n.patStart + n.exact + n.scan; p < end; p++ {
						dst = t.try(p, alias, d, mask, dst)
					}
				} else if windows > 0 {
					if n.gramBits == 0 || n.gramBits > maxGramBits {
						return dst, fmt.Errorf("match table: node %d: gram table of 2^%d slots: %w; rebuild meta.pb", cur, n.gramBits, ErrCorrupt)
					}
					dst = t.probe(n, alias, d, mask, dst)
				}
			}
		}
		if d == len(alias) || n.childCount == 0 {
			return dst, nil
		}
		if n.firstChild <= cur {
			return dst, fmt.Errorf("match table: node %d: children start at node %d: %w; rebuild meta.pb", cur, n.firstChild, ErrCorrupt)
		}
		edges, c, k := t.edges[n.firstChild:n.firstChild+n.childCount], alias[d], -1
		if len(edges) <= 8 { // Most nodes have a few children; a call costs more.
			for i, e := range edges {
				if e == c {
					k = i
					break
				}
			}
		} else {
			k = bytes.IndexByte(edges, c)
		}
		if k < 0 {
			return dst, nil
		}
		cur = n.firstChild + k
		rec := t.nodes[cur*nodeSize : cur*nodeSize+nodeSize]
		labelOff, labelLen := int(binary.LittleEndian.Uint32(rec[0:])), int(binary.LittleEndian.Uint32(rec[4:])&0xffff)
		if !strings.HasPrefix(alias[d:], t.str[labelOff:labelOff+labelLen]) {
			return dst, nil
		}
		d += labelLen
	}
}

// probeFactor: a node's gram table is used when the alias has at most probeFactor 4-byte
// windows per anchored pattern; otherwise trying each pattern is cheaper.
const probeFactor = 4

// suffixMasks answers "which prefilter classes occur in alias[d:]" without allocating:
// checkpoints every 64 bytes hold the classes from there to the end.
type suffixMasks struct {
	cp    [MaxAliasLen/64 + 2]uint64 // cp[k]: classes of alias[64k:]
	ready bool
	long  bool // alias too long for the checkpoints: scan on every query
}

func (m *suffixMasks) at(s string, d int) uint64 {
	if !m.ready {
		m.ready = true
		m.long = len(s)/64+1 >= len(m.cp)
		if !m.long {
			var acc uint64
			for k := len(s) / 64; k >= 0; k-- {
				for _, c := range []byte(s[64*k : min(len(s), 64*k+64)]) {
					acc |= maskBit(c)
				}
				m.cp[k] = acc
			}
		}
	}
	end := len(s)
	var x uint64
	if !m.long {
		if c := (d + 63) / 64; 64*c < len(s) {
			end, x = 64*c, m.cp[c]
		}
	}
	for _, c := range []byte(s[d:end]) {
		x |= maskBit(c)
	}
	return x
}

// try matches wildcard pattern record p against alias, whose first d bytes equal the
// pattern's literal prefix (the trie walk checked them); have holds the prefilter classes of
// alias[d:].
func (t *Table) try(p int, alias string, d int, have uint64, dst []Hit) []Hit {
	rec := t.pats[p*patternSize : p*patternSize+patternSize]
	flags := binary.LittleEndian.Uint32(rec[12:])
	if len(alias)-d < int(flags>>16) {
		return dst
	}
	mask := uint64(binary.LittleEndian.Uint32(rec[16:])) | uint64(binary.LittleEndian.Uint32(rec[20:]))<<32
	if mask&^have != 0 {
		return dst
	}
	text, prefix := t.text(p)
	if prefix != d {
		return dst // Only in a corrupt table: the record is not where its prefix says.
	}
	var ok bool
	if flags&flagSimple != 0 {
		ok = matchSimple(text[prefix:], alias[d:])
	} else {
		ok = fnmatch(text[prefix:], alias[d:])
	}
	if ok {
		dst = append(dst, t.hit(p))
	}
	return dst
}

// probe tries the anchored patterns of node n: those filed under a 4-byte window of
// alias[d:].
func (t *Table) probe(n node, alias string, d int, have uint64, dst []Hit) []Hit {
	gramStart, gramBits := n.gramStart, n.gramBits
	size := 1 << gramBits
	var seenBuf [64]uint64
	seen := seenBuf[:]
	if size > 64*64 {
		seen = make([]uint64, size/64)
	}
	for i := d; i+gramLen <= len(alias); i++ {
		g := uint32(alias[i]) | uint32(alias[i+1])<<8 | uint32(alias[i+2])<<16 | uint32(alias[i+3])<<24
		s := int(gramHash(g, gramBits))
		for range maxProbe + 1 {
			slot := t.gr[(gramStart+s)*slotSize:]
			count := int(binary.LittleEndian.Uint32(slot[8:]))
			if count == 0 {
				break
			}
			if binary.LittleEndian.Uint32(slot) == g {
				// Each slot once per lookup, or a pattern could be reported twice.
				if seen[s/64]&(1<<(s%64)) == 0 {
					seen[s/64] |= 1 << (s % 64)
					start := int(binary.LittleEndian.Uint32(slot[4:]))
					for p := start; p < start+count; p++ {
						dst = t.try(p, alias, d, have, dst)
					}
				}
				break
			}
			s = (s + 1) & (size - 1)
		}
	}
	return dst
}

// matchSimple is Fnmatch for patterns made only of '*' and plain bytes: each segment between
// stars is found leftmost with strings.Index, and the last one must end the string.
func matchSimple(p, s string) bool {
	k := strings.IndexByte(p, '*')
	if k < 0 {
		return p == s
	}
	if !strings.HasPrefix(s, p[:k]) {
		return false
	}
	s, p = s[k:], p[k:]
	for {
		for len(p) > 0 && p[0] == '*' {
			p = p[1:]
		}
		if p == "" {
			return true
		}
		k = strings.IndexByte(p, '*')
		if k < 0 {
			return len(s) >= len(p) && s[len(s)-len(p):] == p
		}
		i := strings.Index(s, p[:k])
		if i < 0 {
			return false
		}
		s, p = s[i+k:], p[k:]
	}
}
