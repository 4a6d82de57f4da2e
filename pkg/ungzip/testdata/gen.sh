#!/bin/sh
# gen.sh writes the small .gz fixtures of this directory with gzip(1) and fixtures.txt, the
# size and SHA-256 of each one's content as `gzip -dc` decodes it. Run it from
# pkg/ungzip/testdata:
#
#	sh gen.sh
#
# Each input makes gzip(1) write something that the tests want to meet in a real file: a file
# name in the header, stored blocks (incompressible data), long runs (length-258 matches at
# distance 1), an empty member, several members.
set -eu
export LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Text: words from a fixed pseudo-random sequence (awk's srand is deterministic).
awk 'BEGIN { srand(1); split("the of and to in is that for it as with was on be by module " \
	"device driver kernel alias pci usb firmware probe", w, " ");
	for (i = 0; i < 3000; i++) printf "%s%s", w[int(rand() * 22) + 1], (i % 12 == 11) ? "\n" : " " }' \
	>"$tmp/words"
# Incompressible bytes: gzip(1) stores them.
awk 'BEGIN { srand(2); for (i = 0; i < 6000; i++) printf "%c", int(rand() * 255) + 1 }' >"$tmp/noise"
head -c 300000 /dev/zero >"$tmp/zeros"
: >"$tmp/empty"

cp "$tmp/words" "$tmp/words.txt"
(cd "$tmp" && gzip -9 -c words.txt) >words-9-name.gz
gzip -1 --no-name -c <"$tmp/words" >words-1.gz
gzip -6 -c <"$tmp/noise" >noise.gz
gzip -9 -c <"$tmp/zeros" >zeros300k.gz
gzip -c <"$tmp/empty" >empty.gz
{ gzip -c <"$tmp/words"; gzip -c <"$tmp/empty"; gzip -1 -c <"$tmp/noise"; } >concat.gz

{
	echo "# name size sha256 of the content, as gzip -dc decodes it (written by gen.sh)"
	for f in *.gz; do
		printf '%s %s %s\n' "${f%.gz}" "$(gzip -dc "$f" | wc -c)" \
			"$(gzip -dc "$f" | sha256sum | cut -d' ' -f1)"
	done
} >fixtures.txt
