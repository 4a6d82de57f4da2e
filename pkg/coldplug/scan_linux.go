package coldplug

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// walk walks the tree with getdents64 directly: no sorting, no per-entry allocation, no stat
// and no poller registration per file (os.Open does an epoll_ctl for each). It matters in
// slow guests (under TCG a Go-library walk of a small machine's sysfs took a third of a
// second) and on machines with tens of thousands of sysfs directories.
func walk(top string, res *ScanResult) {
	w := &walker{res: res, buf: make([]byte, 32<<10), file: make([]byte, 8<<10)}
	w.dir(top)
}

type walker struct {
	res  *ScanResult
	buf  []byte // getdents buffer, reused: entries are consumed before recursing
	file []byte // modalias read buffer
}

// Offsets in struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name.
const (
	direntReclen = 16
	direntType   = 18
	direntName   = 19
)

func (w *walker) dir(path string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		w.res.Errors++
		return
	}
	w.res.Dirs++
	var subdirs []string
	for {
		n, err := unix.Getdents(fd, w.buf)
		if err != nil {
			w.res.Errors++
			break
		}
		// Only a 0 says the directory has ended. A short batch does not, even on sysfs,
		// whose directories otherwise fill the buffer: the kernel's filldir stops early when
		// a signal is pending, and the Go runtime's preemption signals (SIGURG) come at any
		// time. Of 20,000 walks of a host's /sys under load that stopped at the first short
		// batch, one found no devices and one 18 of 27.
		if n <= 0 {
			break
		}
		for off := 0; off+direntName < n; {
			rec := w.buf[off:n]
			reclen := int(binary.NativeEndian.Uint16(rec[direntReclen:]))
			if reclen <= direntName || reclen > len(rec) {
				w.res.Errors++
				break
			}
			typ := rec[direntType]
			name := rec[direntName:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			off += reclen
			switch {
			case typ == unix.DT_DIR:
				if len(name) == 0 || name[0] == '.' && (len(name) == 1 || len(name) == 2 && name[1] == '.') {
					continue
				}
				if !skipDirs[unsafe.String(&name[0], len(name))] {
					subdirs = append(subdirs, path+"/"+string(name))
				}
			case typ == unix.DT_REG && string(name) == "modalias":
				w.modalias(path)
			case typ == unix.DT_UNKNOWN:
				w.unknown(path, string(name))
			}
		}
	}
	unix.Close(fd)
	for _, d := range subdirs {
		w.dir(d)
	}
}

// unknown handles an entry whose type getdents did not give (sysfs always gives it).
func (w *walker) unknown(path, name string) {
	var st unix.Stat_t
	if err := unix.Lstat(path+"/"+name, &st); err != nil {
		w.res.Errors++
		return
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFDIR && name != "." && name != ".." && !skipDirs[name]:
		w.dir(path + "/" + name)
	case st.Mode&unix.S_IFMT == unix.S_IFREG && name == "modalias":
		w.modalias(path)
	}
}

func (w *walker) modalias(dir string) {
	fd, err := unix.Open(dir+"/modalias", unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		w.res.Errors++
		return
	}
	defer unix.Close(fd)
	n := 0
	for n < len(w.file) {
		k, err := unix.Read(fd, w.file[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			w.res.Errors++
			return
		}
		if k == 0 {
			break
		}
		n += k
	}
	w.res.addModalias(dir, w.file[:n])
}
