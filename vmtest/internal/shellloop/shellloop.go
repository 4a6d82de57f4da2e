// Package shellloop holds the baseline the benchmarks compare coldplug with: the loop
// initramfs scripts use to load drivers, shared by vmtest/coldplugcheck (inside the guest) and
// the shell-loop boot image of vmtest's boot benchmark, so that both time the same loop.
package shellloop

// Script runs every modalias in sysfs through modprobe -b, repeated until a pass finds no new
// modalias. It needs sh, find, cat, sort and modprobe in PATH (busybox's, in the benchmarks).
// $MODPROBE, when set, is the modprobe to run instead: it must be a path, because busybox sh
// runs its own modprobe applet for the bare name whatever PATH holds.
const Script = `seen=" "
while :; do
	new=0
	for m in $(find /sys/devices -name modalias -exec cat {} + | sort -u); do
		case "$seen" in *" $m "*) continue ;; esac
		seen="$seen$m "
		new=1
		${MODPROBE:-modprobe} -b -q "$m"
	done
	[ "$new" = 0 ] && break
done
`
