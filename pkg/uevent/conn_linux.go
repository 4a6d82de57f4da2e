package uevent

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

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
	f   *os.File
	rc  syscall.RawConn
	buf []byte // buf and oob are used only by Receive.
	oob []byte

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
	return &Conn{
		f:   f,
		rc:  rc,
		buf: make([]byte, MaxSize+1),
		oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred)*2),
	}, nil
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
		var (
			n, oobn, flags int
			from           unix.Sockaddr
			rerr           error
		)
		err := c.rc.Read(func(fd uintptr) bool {
			n, oobn, flags, from, rerr = unix.Recvmsg(int(fd), c.buf, c.oob, unix.MSG_DONTWAIT)
			return !errors.Is(rerr, unix.EAGAIN) && !errors.Is(rerr, unix.EINTR)
		})
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
		if CheckSender(senderOf(from, c.oob[:oobn])) != nil {
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

// senderOf describes the sender of a datagram from recvmsg's address and control messages.
func senderOf(from unix.Sockaddr, oob []byte) Sender {
	var s Sender
	if nl, ok := from.(*unix.SockaddrNetlink); ok {
		s.PortID, s.Groups = nl.Pid, nl.Groups
	} else {
		s.PortID = ^uint32(0) // not a netlink address: cannot be the kernel
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return s
	}
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_CREDENTIALS {
			continue
		}
		if cred, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
			s.HasCred, s.UID, s.PID = true, cred.Uid, uint32(cred.Pid)
		}
	}
	return s
}
