package modindex

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the file at path read-only, or reads it when it cannot be mapped. It uses the
// system calls directly: os.Open registers every file with the runtime's poller, which in a
// short-lived process like modload means creating the poller itself (epoll_create1, eventfd2,
// epoll_ctl and four fcntl calls) for a file that is never polled.
func mapFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size == 0 || st.Size != int64(int(st.Size)) {
		return readFile(path)
	}
	data, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return readFile(path)
	}
	return data, nil
}
