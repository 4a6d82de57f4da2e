package uevent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// KernelGroup is the netlink multicast group the kernel sends uevents to. (udev re-broadcasts
// on group 2, which Conn never joins.)
const KernelGroup = 1

// DefaultReceiveBuffer is the socket receive buffer Listen asks for: room for tens of thousands
// of events, so a burst at boot (every device of a large machine, plus every module loaded)
// does not overflow while the reader is busy.
const DefaultReceiveBuffer = 16 << 20

// Options tune Listen. The zero value is fine.
type Options struct {
	// ReceiveBuffer is the socket receive buffer size in bytes; 0 means DefaultReceiveBuffer.
	ReceiveBuffer int
}

// Stats counts what a Conn received.
type Stats struct {
	// Accepted counts events returned by Receive.
	Accepted uint64
	// Forged counts messages dropped because CheckSender refused their sender.
	Forged uint64
	// Malformed counts messages from the kernel that Parse refused, or that were truncated.
	Malformed uint64
	// Overflows counts ENOBUFS errors returned as ErrOverflow.
	Overflows uint64
}

// Conn is a NETLINK_KOBJECT_UEVENT socket joined to the kernel's multicast group. Receive must
// not be called from two goroutines at once; Close, SetDeadline and Stats may be called from
// any goroutine, and Close unblocks a pending Receive.
type Conn struct {
	f  *os.File
	rc syscall.RawConn
	// buf, oob and the recvmsg arguments are used only by Receive, and set up once: a boot
	// brings hundreds of events, and receiving one allocates nothing but the parsed Event.
	buf  []byte
	oob  []byte
	from unix.RawSockaddrNetlink
	iov  unix.Iovec
	msg  unix.Msghdr
	// read is c.readOnce, made once (a method value allocates), and n, oobn, flags and rerr
	// its results.
	read           func(fd uintptr) bool
	n, oobn, flags int
	rerr           error

	closed                                 atomic.Bool
	accepted, forged, malformed, overflows atomic.Uint64
}

// Listen opens a uevent socket bound to the kernel's group with credentials passing on.
func Listen(opts Options) (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent: open NETLINK_KOBJECT_UEVENT socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: KernelGroup}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent: bind netlink socket to the kernel's group %d: %w", KernelGroup, err)
	}
	size := opts.ReceiveBuffer
	if size <= 0 {
		size = DefaultReceiveBuffer
	}
	// SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN; SO_RCVBUF is capped by it.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("uevent: set receive buffer to %d bytes: %w", size, err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent: enable SO_PASSCRED (needed to check senders): %w", err)
	}
	// A non-blocking descriptor in an os.File goes through the runtime poller, so Close and
	// deadlines wake a goroutine blocked in Receive.
	f := os.NewFile(uintptr(fd), "uevent-netlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("uevent: %w", err)
	}
	c := &Conn{
		f:   f,
		rc:  rc,
		buf: make([]byte, MaxSize+1),
		oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred)*2),
	}
	c.iov.Base = &c.buf[0]
	c.iov.SetLen(len(c.buf))
	c.msg.Iov, c.msg.Iovlen = &c.iov, 1
	c.read = c.readOnce
	return c, nil
}

// readOnce is the RawConn.Read callback: one recvmsg, done unless the socket had nothing.
func (c *Conn) readOnce(fd uintptr) bool {
	c.n, c.oobn, c.flags, c.rerr = c.recvmsg(fd)
	return !errors.Is(c.rerr, unix.EAGAIN) && !errors.Is(c.rerr, unix.EINTR)
}

// recvmsg receives one datagram into c.buf without blocking, its sender's address into c.from
// and its control messages into c.oob. It allocates nothing.
func (c *Conn) recvmsg(fd uintptr) (n, oobn, flags int, err error) {
	c.from = unix.RawSockaddrNetlink{}
	c.msg.Name = (*byte)(unsafe.Pointer(&c.from))
	c.msg.Namelen = unix.SizeofSockaddrNetlink
	c.msg.Control = &c.oob[0]
	c.msg.SetControllen(len(c.oob))
	c.msg.Flags = 0
	r, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.msg)), unix.MSG_DONTWAIT)
	if e != 0 {
		return 0, 0, 0, e
	}
	return int(r), int(c.msg.Controllen), int(c.msg.Flags), nil
}

// Close closes the socket; a Receive blocked in another goroutine returns ErrClosed.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.f.Close()
}

// SetDeadline makes Receive return an error matching os.ErrDeadlineExceeded once t passes.
// A zero t means no deadline.
func (c *Conn) SetDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

// Stats returns the counters so far.
func (c *Conn) Stats() Stats {
	return Stats{
		Accepted:  c.accepted.Load(),
		Forged:    c.forged.Load(),
		Malformed: c.malformed.Load(),
		Overflows: c.overflows.Load(),
	}
}

// Receive returns the next kernel uevent. Messages from other senders and messages that do not
// parse are dropped and counted. It returns ErrOverflow when events were lost (the connection
// remains usable), ErrClosed after Close, and an error matching os.ErrDeadlineExceeded when a
// deadline passes.
func (c *Conn) Receive() (*Event, error) {
	for {
		err := c.rc.Read(c.read)
		n, oobn, flags, rerr := c.n, c.oobn, c.flags, c.rerr
		switch {
		case err != nil && (c.closed.Load() || errors.Is(err, os.ErrClosed)):
			// RawConn.Read reports a closed file as poll's "use of closed file", which is not
			// os.ErrClosed, hence the flag.
			return nil, ErrClosed
		case err != nil:
			return nil, fmt.Errorf("uevent: receive: %w", err)
		case errors.Is(rerr, unix.ENOBUFS):
			c.overflows.Add(1)
			return nil, ErrOverflow
		case rerr != nil:
			return nil, fmt.Errorf("uevent: recvmsg: %w", rerr)
		}
		if CheckSender(senderOf(&c.from, c.msg.Namelen, c.oob[:oobn])) != nil {
			c.forged.Add(1)
			continue
		}
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || n > MaxSize {
			c.malformed.Add(1)
			continue
		}
		ev, err := Parse(c.buf[:n])
		if err != nil {
			c.malformed.Add(1)
			continue
		}
		c.accepted.Add(1)
		return ev, nil
	}
}

// senderOf describes the sender of a datagram from recvmsg's address (namelen bytes of from
// were filled) and control messages.
func senderOf(from *unix.RawSockaddrNetlink, namelen uint32, oob []byte) Sender {
	var s Sender
	if namelen >= unix.SizeofSockaddrNetlink && from.Family == unix.AF_NETLINK {
		s.PortID, s.Groups = from.Pid, from.Groups
	} else {
		s.PortID = ^uint32(0) // not a netlink address: cannot be the kernel
	}
	// ParseOneSocketControlMessage reads a header's worth of bytes before checking the length.
	for rest := oob; len(rest) >= unix.SizeofCmsghdr; {
		hdr, data, next, err := unix.ParseOneSocketControlMessage(rest)
		if err != nil {
			break
		}
		rest = next
		if hdr.Level != unix.SOL_SOCKET || hdr.Type != unix.SCM_CREDENTIALS || len(data) < unix.SizeofUcred {
			continue
		}
		// struct ucred: pid, uid, gid, each 32 bits in the host's byte order.
		s.HasCred = true
		s.PID = binary.NativeEndian.Uint32(data[0:4])
		s.UID = binary.NativeEndian.Uint32(data[4:8])
	}
	return s
}
