package modalias

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
)

// Layout is the MatchTable.layout this package writes and reads (see the package doc).
const Layout = 1

// Record sizes of the layout, in bytes.
const (
	nodeSize    = 28
	patternSize = 24
	slotSize    = 12
	gramLen     = 4
)

// maxTextLen is the longest normalized pattern the layout stores (its length shares a word
// with the literal prefix length). Normalization cuts aliases at MaxAliasLen bytes, so only a
// bracket expression straddling that limit could make a pattern longer; kmod's own PATH_MAX
// buffers cannot hold such a pattern either, and Build drops it.
const maxTextLen = 1<<16 - 1

// maxSlots bounds the total number of gram slots (a slot index shares a word with a size).
const maxSlots = 1 << 24

// Pattern flags.
const (
	flagBuiltin = 1 << 0
	flagSimple  = 1 << 1
)

// anchorThreshold is how many wildcard patterns a trie node needs before Build gives it a
// gram table. Below it, trying each pattern behind its 64-bit prefilter is as cheap as hashing
// every 4-byte window of the alias.
const anchorThreshold = 12

// Entry is one alias pattern of one module, as the builder of meta.pb collects them.
type Entry struct {
	// Pattern is the alias as the module declares it; Build normalizes it.
	Pattern string
	// Module is the module's index in Index.modules.
	Module uint32
	// Builtin is true for an alias of a module compiled into the kernel.
	Builtin bool
}

// entry is a normalized Entry with what Build derives from it.
type entry struct {
	text     string
	module   uint32
	builtin  bool
	prefix   int // literal prefix length; len(text) when exact
	exact    bool
	tail     tailInfo
	anchor   uint32 // chosen gram, valid when anchored
	anchored bool
}

// Build makes the match table for a set of alias patterns.
//
// Each pattern is normalized first; like depmod, Build silently drops patterns that fail
// normalization (an unbalanced ']' or '['), so a builder that wants to warn about them
// should call Normalize itself. Duplicate (pattern, module, built in) entries are kept once.
// The result does not depend on the order of entries.
func Build(entries []Entry) (Arrays, error) {
	es := make([]*entry, 0, len(entries))
	type key struct {
		text    string
		module  uint32
		builtin bool
	}
	seen := make(map[key]bool, len(entries))
	for _, e := range entries {
		text, err := Normalize(e.Pattern)
		if err != nil || len(text) > maxTextLen {
			continue // depmod: "Unmatched bracket in ...", pattern dropped.
		}
		k := key{text, e.Module, e.Builtin}
		if seen[k] {
			continue
		}
		seen[k] = true
		ne := &entry{text: text, module: e.Module, builtin: e.Builtin}
		if k := strings.IndexAny(text, "*?["); k >= 0 {
			ne.prefix = k
			ne.tail = analyzeTail(text[k:])
		} else {
			ne.prefix, ne.exact = len(text), true
		}
		es = append(es, ne)
	}
	if len(es) > math.MaxUint32/patternSize {
		return Arrays{}, fmt.Errorf("build match table: %d patterns is more than the table layout can hold", len(es))
	}
	slices.SortFunc(es, func(a, b *entry) int {
		if c := strings.Compare(a.text[:a.prefix], b.text[:b.prefix]); c != 0 {
			return c
		}
		if a.exact != b.exact {
			if a.exact {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.text, b.text); c != 0 {
			return c
		}
		if a.module != b.module {
			return int(int64(a.module) - int64(b.module))
		}
		if a.builtin != b.builtin {
			if !a.builtin {
				return -1
			}
			return 1
		}
		return 0
	})

	root := buildTrie(es, 0)
	b := &builder{texts: map[string]uint32{}}
	// Number the nodes so that every node's children are consecutive, and place each
	// children block right before the blocks of their own subtrees (depth first): a subtree
	// then occupies one contiguous range of nodes, patterns and text, so the deep, rarely
	// visited part of a lookup's path touches few cache lines.
	order := []*trieNode{root}
	var place func(n *trieNode)
	place = func(n *trieNode) {
		n.firstChild = len(order)
		order = append(order, n.children...)
		for _, c := range n.children {
			place(c)
		}
	}
	place(root)
	if len(order) > math.MaxUint32/nodeSize {
		return Arrays{}, fmt.Errorf("build match table: %d trie nodes is more than the table layout can hold", len(order))
	}
	nodes := make([]byte, 0, len(order)*nodeSize)
	edges := make([]byte, len(order))
	var patterns, grams []byte
	patCount, slotCount := 0, 0
	for i, n := range order {
		labelOff := uint32(0)
		if len(n.label) > 0 {
			labelOff = b.text(n.sample.text) + uint32(n.depth-len(n.label))
			edges[i] = n.label[0]
		}
		exact, scan, anchored := n.split()
		var slots []byte
		gramBits := 0
		if len(anchored) > 0 {
			var ok bool
			slots, gramBits, ok = gramTable(anchored, patCount+len(exact)+len(scan))
			if !ok || slotCount+len(slots)/slotSize > maxSlots {
				// Never seen in practice; scanning is slower but as correct.
				scan, anchored, gramBits = append(scan, anchored...), nil, 0
				for _, e := range scan {
					e.anchored = false
				}
			}
		}
		patStart := patCount
		for _, group := range [][]*entry{exact, scan, anchored} {
			for _, e := range group {
				patterns = b.appendPattern(patterns, e)
				patCount++
			}
		}
		gramStart := 0
		if len(anchored) > 0 {
			gramStart = slotCount
			grams = append(grams, slots...)
			slotCount += 1 << gramBits
		}
		for _, w := range []uint64{uint64(labelOff), uint64(len(n.label)) | uint64(len(n.children))<<16,
			uint64(n.firstChild), uint64(patStart), uint64(len(exact)), uint64(len(scan)),
			uint64(gramStart) | uint64(gramBits)<<24} {
			if w > math.MaxUint32 {
				return Arrays{}, fmt.Errorf("build match table: node %d field %d overflows uint32", i, w)
			}
			nodes = binary.LittleEndian.AppendUint32(nodes, uint32(w))
		}
	}
	if uint64(len(b.pool)) > math.MaxUint32 || uint64(slotCount)*slotSize > math.MaxUint32 {
		return Arrays{}, fmt.Errorf("build match table: %d bytes of pattern text or %d gram slots overflow the layout", len(b.pool), slotCount)
	}
	return Arrays{
		Layout:       Layout,
		Strings:      b.pool,
		Nodes:        nodes,
		Edges:        edges,
		Patterns:     patterns,
		PatternCount: uint32(patCount),
		Grams:        grams,
	}, nil
}

// builder holds the string pool being built.
type builder struct {
	pool  []byte
	texts map[string]uint32 // texts maps a pattern text to its offset in pool
}

// text returns the pool offset of s, adding it once.
func (b *builder) text(s string) uint32 {
	if off, ok := b.texts[s]; ok {
		return off
	}
	off := uint32(len(b.pool))
	b.pool = append(b.pool, s...)
	b.texts[s] = off
	return off
}

func (b *builder) appendPattern(dst []byte, e *entry) []byte {
	var flags uint32
	if e.builtin {
		flags |= flagBuiltin
	}
	if !e.exact && e.tail.simple {
		flags |= flagSimple
	}
	flags |= uint32(min(e.tail.minLen, math.MaxUint16)) << 16
	for _, w := range []uint32{b.text(e.text), uint32(len(e.text)) | uint32(e.prefix)<<16, e.module,
		flags, uint32(e.tail.mask), uint32(e.tail.mask >> 32)} {
		dst = binary.LittleEndian.AppendUint32(dst, w)
	}
	return dst
}

// trieNode is a radix-trie node while building.
type trieNode struct {
	label      string // bytes added to the parent's path
	depth      int    // length of the path including label
	entries    []*entry
	children   []*trieNode
	sample     *entry // any entry below this node, whose text contains the path
	firstChild int
}

// buildTrie builds the subtree for entries sorted by literal prefix, all sharing the first
// depth bytes of it.
func buildTrie(es []*entry, depth int) *trieNode {
	n := &trieNode{depth: depth}
	if len(es) > 0 {
		n.sample = es[0]
	}
	i := 0
	for i < len(es) && es[i].prefix == depth {
		n.entries = append(n.entries, es[i])
		i++
	}
	for i < len(es) {
		c := es[i].text[depth]
		j := i
		for j < len(es) && es[j].text[depth] == c {
			j++
		}
		// The group's common prefix: sorted, so the first and last bound it.
		first, last := es[i].text[:es[i].prefix], es[j-1].text[:es[j-1].prefix]
		l := depth + 1
		for l < len(first) && l < len(last) && first[l] == last[l] {
			l++
		}
		child := buildTrie(es[i:j], l)
		child.label = first[depth:l]
		n.children = append(n.children, child)
		i = j
	}
	return n
}

// split sorts a node's entries into exact, scanned and anchored ones, choosing anchors.
func (n *trieNode) split() (exact, scan, anchored []*entry) {
	var wild []*entry
	for _, e := range n.entries {
		if e.exact {
			exact = append(exact, e)
		} else {
			wild = append(wild, e)
		}
	}
	if len(wild) < anchorThreshold {
		return exact, wild, nil
	}
	// Give each pattern the 4-byte window of its literal runs that the fewest other patterns
	// of this node share, so that gram buckets stay small.
	freq := map[uint32]int{}
	grams := make([][]uint32, len(wild))
	for i, e := range wild {
		set := map[uint32]bool{}
		for _, run := range e.tail.runs {
			for k := 0; k+gramLen <= len(run); k++ {
				set[binary.LittleEndian.Uint32([]byte(run[k:]))] = true
			}
		}
		for g := range set {
			grams[i] = append(grams[i], g)
			freq[g]++
		}
		slices.Sort(grams[i])
	}
	for i, e := range wild {
		if len(grams[i]) == 0 {
			scan = append(scan, e)
			continue
		}
		best := grams[i][0]
		for _, g := range grams[i][1:] {
			if freq[g] < freq[best] {
				best = g
			}
		}
		e.anchor, e.anchored = best, true
		anchored = append(anchored, e)
	}
	// File anchored patterns by gram so each gram's patterns are consecutive.
	slices.SortStableFunc(anchored, func(a, b *entry) int {
		if a.anchor != b.anchor {
			if a.anchor < b.anchor {
				return -1
			}
			return 1
		}
		return 0
	})
	return exact, scan, anchored
}

// gramHash maps a gram to a slot of a table of 2^bits slots.
func gramHash(g uint32, bits uint) uint32 {
	return (g * 0x9E3779B1) >> (32 - bits)
}

// gramTable builds the hash table for anchored entries, sorted by gram, whose records start
// at pattern index first. ok is false if no table within maxGramBits keeps probes short.
func gramTable(anchored []*entry, first int) (slots []byte, nbits int, ok bool) {
	distinct := 0
	for i, e := range anchored {
		if i == 0 || e.anchor != anchored[i-1].anchor {
			distinct++
		}
	}
	// At most half full, and grown until no run of occupied slots is longer than maxProbe.
	for nbits := max(2, bits.Len(uint(2*distinct-1))); nbits <= maxGramBits; nbits++ {
		if slots, ok := fillGramTable(anchored, first, nbits); ok {
			return slots, nbits, true
		}
	}
	return nil, 0, false
}

// fillGramTable fills a table of 2^nbits slots, reporting false if some probe run would be
// longer than maxProbe.
func fillGramTable(anchored []*entry, first, nbits int) ([]byte, bool) {
	size := 1 << nbits
	slots := make([]byte, size*slotSize)
	for i := 0; i < len(anchored); {
		j := i
		for j < len(anchored) && anchored[j].anchor == anchored[i].anchor {
			j++
		}
		g := anchored[i].anchor
		s := gramHash(g, uint(nbits))
		for binary.LittleEndian.Uint32(slots[s*slotSize+8:]) != 0 {
			s = (s + 1) & uint32(size-1)
		}
		binary.LittleEndian.PutUint32(slots[s*slotSize:], g)
		binary.LittleEndian.PutUint32(slots[s*slotSize+4:], uint32(first+i))
		binary.LittleEndian.PutUint32(slots[s*slotSize+8:], uint32(j-i))
		i = j
	}
	// The longest run of occupied slots, cyclically: a lookup of an absent gram walks it.
	run, longest := 0, 0
	for k := range 2 * size {
		if binary.LittleEndian.Uint32(slots[(k%size)*slotSize+8:]) != 0 {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return slots, longest < maxProbe
}

// tailInfo is what Build learns about a pattern's wildcard part (from its first '*', '?' or
// '[' on) to prefilter and to pick a fast matcher.
type tailInfo struct {
	simple bool     // only '*' and plain bytes: no '?', '[', '\'
	minLen int      // every match is at least this long
	mask   uint64   // byte classes every match contains
	runs   []string // maximal runs of literal bytes, as the alias must contain them
}

// analyzeTail parses a wildcard part conservatively: anything whose extent glibc could read
// differently depending on the alias (brackets containing '[' or '\', unterminated
// brackets, a trailing '\') yields an empty tailInfo, which filters nothing.
func analyzeTail(t string) tailInfo {
	info := tailInfo{simple: true}
	var run []byte
	flush := func() {
		if len(run) > 0 {
			info.runs = append(info.runs, string(run))
			run = run[:0]
		}
	}
	for i := 0; i < len(t); i++ {
		switch c := t[i]; c {
		case '*':
			flush()
		case '?':
			info.simple = false
			flush()
			info.minLen++
		case '\\':
			if i+1 == len(t) {
				return tailInfo{}
			}
			info.simple = false
			i++
			run = append(run, t[i])
			info.mask |= maskBit(t[i])
			info.minLen++
		case '[':
			end, ok := simpleBracketEnd(t, i)
			if !ok {
				return tailInfo{}
			}
			info.simple = false
			flush()
			info.minLen++
			i = end
		default:
			run = append(run, c)
			info.mask |= maskBit(c)
			info.minLen++
		}
	}
	flush()
	return info
}

// simpleBracketEnd returns the index of the ']' closing the bracket expression at t[i], if
// it is one that always matches exactly one byte: terminated, without '[' or '\' inside.
func simpleBracketEnd(t string, i int) (int, bool) {
	j := i + 1
	if j < len(t) && (t[j] == '!' || t[j] == '^') {
		j++
	}
	if j < len(t) && t[j] == ']' {
		j++ // A leading ']' is a member.
	}
	for k := j; k < len(t); k++ {
		switch t[k] {
		case '[', '\\':
			return 0, false
		case ']':
			return k, true
		}
	}
	return 0, false
}

// maskBits assigns each byte one of 64 classes: digits, upper- and lower-case letters get
// one each (they are what modaliases are made of), ':' one, and all other bytes share one.
var maskBits = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case '0' <= c && c <= '9':
			t[c] = uint8(c - '0')
		case 'A' <= c && c <= 'Z':
			t[c] = uint8(c - 'A' + 10)
		case 'a' <= c && c <= 'z':
			t[c] = uint8(c - 'a' + 36)
		case c == ':':
			t[c] = 62
		default:
			t[c] = 63
		}
	}
	return t
}()

// maskBit is the prefilter bit of byte c.
func maskBit(c byte) uint64 { return 1 << maskBits[c] }
