//go:build ignore

// gen.go writes the small .zst fixtures of this directory and fixtures.txt, the size and
// SHA-256 of each one's content as `zstd -dc` decodes it. Run it from pkg/unzstd with the
// zstd CLI installed:
//
//	go run testdata/gen.go
//
// Each input is chosen to make the zstd CLI write a format feature that real modules rarely
// show (see the census in TestFixtures).
package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"log"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	r := rand.New(rand.NewSource(1))
	rnd := func(n int, alphabet []byte) []byte {
		b := make([]byte, n)
		for i := range b {
			if alphabet == nil {
				b[i] = byte(r.Intn(256))
			} else {
				b[i] = alphabet[r.Intn(len(alphabet))]
			}
		}
		return b
	}
	inputs := map[string][]byte{}

	// Few literals and no matches: Huffman literals in one stream, no sequences.
	inputs["hex200"] = rnd(200, []byte("0123456789abcdef"))

	// A skewed 16-symbol alphabet: Huffman weights written directly, four streams,
	// predefined sequence tables.
	var skew []byte
	for i, n := range []int{16, 8, 4, 4, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1} {
		skew = append(skew, bytes.Repeat([]byte{byte(i)}, n)...)
	}
	inputs["skew16"] = rnd(3000, skew)

	// One 20-byte string repeated after 70 random bytes each time: every literal length has
	// code 25 and every match length code 17, so both tables are in RLE mode.
	x := rnd(20, nil)
	rlell := bytes.Clone(x)
	for i := 0; i < 40; i++ {
		rlell = append(append(rlell, rnd(70, nil)...), x...)
	}
	inputs["rlell"] = rlell

	// Whole blocks of one byte: RLE blocks.
	inputs["zeros300k"] = make([]byte, 300000)

	// A short text with one repeat: predefined tables for all three codes.
	inputs["tiny"] = []byte("hello world, hello world, hello world!")

	// Text from a small vocabulary in many small blocks: treeless literals and repeat modes.
	words := strings.Fields("module alias pci usb acpi of platform driver device firmware " +
		"license depends softdep vermagic intree retpoline name srcversion parm")
	var text []byte
	for len(text) < 5000 {
		text = append(text, words[r.Intn(len(words))]...)
		text = append(text, " =\n"[r.Intn(3)])
	}
	inputs["words"] = text

	type out struct {
		name, in string
		flags    []string
	}
	outs := []out{
		{"hex200", "hex200", []string{"-19"}},
		{"skew16", "skew16", []string{"-19"}},
		{"rlell", "rlell", []string{"-19"}},
		{"zeros300k", "zeros300k", []string{"-19"}},
		{"tiny", "tiny", []string{"-19"}},
		{"words-blocks", "words", []string{"-19", "--target-compressed-block-size=256"}},
		{"words-nocheck-nosize", "words", []string{"-3", "--no-check", "--no-content-size"}},
		{"words-l1", "words", []string{"-1"}},
	}
	tmp, err := os.MkdirTemp("", "unzstd-gen")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	var manifest strings.Builder
	manifest.WriteString("# name size sha256 of the content, as zstd -dc decodes it " +
		"(written by gen.go)\n")
	add := func(name string, z []byte) {
		if err := os.WriteFile(filepath.Join("testdata", name+".zst"), z, 0o644); err != nil {
			log.Fatal(err)
		}
		cmd := exec.Command("zstd", "-dcq")
		cmd.Stdin = bytes.NewReader(z)
		plain, err := cmd.Output()
		if err != nil {
			log.Fatalf("zstd -dc %s: %v", name, err)
		}
		fmt.Fprintf(&manifest, "%s %d %x\n", name, len(plain), sha256.Sum256(plain))
	}
	for _, o := range outs {
		in := filepath.Join(tmp, o.in)
		if err := os.WriteFile(in, inputs[o.in], 0o644); err != nil {
			log.Fatal(err)
		}
		args := append(append([]string{"-q", "-f"}, o.flags...), "-o", in+".zst", in)
		if b, err := exec.Command("zstd", args...).CombinedOutput(); err != nil {
			log.Fatalf("zstd %v: %v: %s", args, err, b)
		}
		z, err := os.ReadFile(in + ".zst")
		if err != nil {
			log.Fatal(err)
		}
		add(o.name, z)
	}
	// Concatenated frames with a skippable frame between them, as `cat` would make.
	a, _ := os.ReadFile(filepath.Join("testdata", "tiny.zst"))
	b, _ := os.ReadFile(filepath.Join("testdata", "hex200.zst"))
	skip := []byte{0x5E, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}
	add("concat", append(append(append([]byte{}, a...), skip...), b...))
	err = os.WriteFile(filepath.Join("testdata", "fixtures.txt"), []byte(manifest.String()), 0o644)
	if err != nil {
		log.Fatal(err)
	}
}
