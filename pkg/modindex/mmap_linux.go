package modindex

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps path read-only. The mapping lives as long as the process: an Index is opened once
// and used until exit. Empty files and files that cannot be mapped are read instead.
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 || st.Size() != int64(int(st.Size())) || !st.Mode().IsRegular() {
		return readFile(path)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return readFile(path)
	}
	return data, nil
}
