//go:build !linux

package coldplug

// walk walks the tree with the portable walker.
func walk(top string, res *ScanResult) { walkPortable(top, res) }
