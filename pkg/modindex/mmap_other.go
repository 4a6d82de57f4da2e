//go:build !linux

package modindex

// mapFile reads path; only the Linux build maps it.
func mapFile(path string) ([]byte, error) { return readFile(path) }
