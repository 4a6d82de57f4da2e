package uevent

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSenderOf(t *testing.T) {
	kernelCred := unix.UnixCredentials(&unix.Ucred{Pid: 0, Uid: 0, Gid: 0})
	for _, tc := range []struct {
		name   string
		from   *unix.RawSockaddrNetlink
		oob    []byte
		short  bool // recvmsg filled less than a netlink address
		want   Sender
		forged bool
	}{
		{
			name: "kernel",
			from: &unix.RawSockaddrNetlink{Family: unix.AF_NETLINK, Pid: 0, Groups: 1},
			oob:  kernelCred,
			want: Sender{PortID: 0, Groups: 1, HasCred: true},
		},
		{
			name:   "root process sending to the kernel group",
			from:   &unix.RawSockaddrNetlink{Family: unix.AF_NETLINK, Pid: 3001, Groups: 1},
			oob:    unix.UnixCredentials(&unix.Ucred{Pid: 3001, Uid: 0}),
			want:   Sender{PortID: 3001, Groups: 1, HasCred: true, PID: 3001},
			forged: true,
		},
		{
			name:   "port 0 but user credentials",
			from:   &unix.RawSockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1},
			oob:    unix.UnixCredentials(&unix.Ucred{Pid: 99, Uid: 1000, Gid: 1000}),
			want:   Sender{Groups: 1, HasCred: true, UID: 1000, PID: 99},
			forged: true,
		},
		{
			name:   "no credentials",
			from:   &unix.RawSockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1},
			want:   Sender{Groups: 1},
			forged: true,
		},
		{
			name:   "garbled control message",
			from:   &unix.RawSockaddrNetlink{Family: unix.AF_NETLINK},
			oob:    []byte{1, 2, 3},
			want:   Sender{},
			forged: true,
		},
		{
			name:   "not a netlink address",
			from:   &unix.RawSockaddrNetlink{Family: unix.AF_UNIX},
			oob:    kernelCred,
			want:   Sender{PortID: ^uint32(0), HasCred: true},
			forged: true,
		},
		{
			name:   "short address",
			from:   &unix.RawSockaddrNetlink{Family: unix.AF_NETLINK},
			short:  true,
			oob:    kernelCred,
			want:   Sender{PortID: ^uint32(0), HasCred: true},
			forged: true,
		},
		{
			name: "credentials after another control message",
			from: &unix.RawSockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1},
			oob:  append(unix.UnixRights(0), kernelCred...),
			want: Sender{Groups: 1, HasCred: true},
		},
		{
			name:   "no address",
			oob:    kernelCred,
			want:   Sender{PortID: ^uint32(0), HasCred: true},
			forged: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var from unix.RawSockaddrNetlink
			namelen := uint32(0) // recvmsg filled no address
			if tc.from != nil {
				from, namelen = *tc.from, unix.SizeofSockaddrNetlink
			}
			if tc.short {
				namelen = 4
			}
			got := senderOf(&from, namelen, tc.oob)
			if got != tc.want {
				t.Errorf("senderOf(%+v) = %+v, want %+v", tc.from, got, tc.want)
			}
			if err := CheckSender(got); (err != nil) != tc.forged {
				t.Errorf("CheckSender(senderOf(%+v)) = %v, want forged=%v", tc.from, err, tc.forged)
			}
		})
	}
}

// listen opens a Conn or skips the test where netlink uevent sockets are not allowed.
func listen(t *testing.T, opts Options) *Conn {
	t.Helper()
	c, err := Listen(opts)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPROTONOSUPPORT) {
			t.Skipf("no uevent socket here: %v", err)
		}
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCloseUnblocksReceive(t *testing.T) {
	c := listen(t, Options{})
	done := make(chan error, 1)
	go func() {
		for {
			_, err := c.Receive()
			if err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // let Receive block in the poller
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Receive after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Receive still blocked 5s after Close")
	}
}

func TestDeadline(t *testing.T) {
	c := listen(t, Options{})
	if err := c.SetDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		_, err := c.Receive()
		if err == nil {
			continue // a real kernel event; keep waiting for the deadline
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Receive = %v, want a deadline error", err)
		}
		break
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("deadline of 50ms took %v", d)
	}
}

func TestReceiveBuffer(t *testing.T) {
	c := listen(t, Options{})
	var size int
	var gerr error
	if err := c.rc.Control(func(fd uintptr) {
		size, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil || gerr != nil {
		t.Fatalf("getsockopt SO_RCVBUF: %v %v", err, gerr)
	}
	// SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the size is capped by net.core.rmem_max.
	if os.Geteuid() == 0 && size < DefaultReceiveBuffer {
		t.Errorf("SO_RCVBUF = %d, want at least %d as root", size, DefaultReceiveBuffer)
	}
}

// triggerKernelEvent makes the kernel send a "change" uevent for /dev/null, or skips.
func triggerKernelEvent(t *testing.T) {
	t.Helper()
	if err := os.WriteFile("/sys/devices/virtual/mem/null/uevent", []byte("change"), 0); err != nil {
		t.Skipf("cannot make the kernel send a uevent here: %v", err)
	}
}

// forge sends a well-formed uevent to the kernel's group from a user socket, or skips.
func forge(t *testing.T, msg string) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		t.Skipf("no netlink socket: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatalf("bind forging socket: %v", err)
	}
	err = unix.Sendto(fd, []byte(msg), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: KernelGroup})
	if err != nil {
		t.Skipf("cannot send to the kernel's uevent group (needs CAP_NET_ADMIN): %v", err)
	}
}

func TestForgedDroppedKernelAccepted(t *testing.T) {
	c := listen(t, Options{})
	forge(t, "add@/devices/forged\x00ACTION=add\x00DEVPATH=/devices/forged\x00SUBSYSTEM=pci\x00MODALIAS=pci:forged\x00SEQNUM=1\x00")
	triggerKernelEvent(t)
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := c.Receive()
		if err != nil {
			t.Fatalf("Receive = %v, want the kernel's change event for /dev/null", err)
		}
		if ev.DevPath == "/devices/forged" {
			t.Fatalf("Receive returned the forged event %v", ev)
		}
		if ev.DevPath == "/devices/virtual/mem/null" && ev.Action == ActionChange {
			break
		}
	}
	if st := c.Stats(); st.Forged < 1 || st.Accepted < 1 {
		t.Errorf("Stats() = %+v, want Forged >= 1 and Accepted >= 1", st)
	}
}

func TestOverflow(t *testing.T) {
	// The smallest buffer the kernel allows fills after a few events.
	c := listen(t, Options{ReceiveBuffer: 1})
	triggerKernelEvent(t)
	for i := 0; i < 200; i++ {
		triggerKernelEvent(t)
	}
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var overflowed bool
	for i := 0; i < 300 && !overflowed; i++ {
		_, err := c.Receive()
		switch {
		case errors.Is(err, ErrOverflow):
			overflowed = true
			if !errors.Is(err, unix.ENOBUFS) {
				t.Errorf("ErrOverflow %v does not match ENOBUFS", err)
			}
			if !strings.Contains(err.Error(), "rescan") {
				t.Errorf("ErrOverflow %q does not tell the caller to rescan", err)
			}
		case err != nil:
			t.Fatalf("Receive = %v, want ErrOverflow after 200 unread events", err)
		}
	}
	if !overflowed {
		t.Fatal("no ErrOverflow after 200 events into the smallest buffer")
	}
	if st := c.Stats(); st.Overflows != 1 {
		t.Errorf("Stats().Overflows = %d, want 1", st.Overflows)
	}
	// The connection stays usable.
	triggerKernelEvent(t)
	for {
		ev, err := c.Receive()
		if err != nil {
			t.Fatalf("Receive after overflow = %v, want events again", err)
		}
		if ev.DevPath == "/devices/virtual/mem/null" {
			break
		}
	}
}

// TestReceiveAllocations: receiving an event allocates only what Parse returns (the Event and
// its one copy of the message), not the sender's address or the control messages.
func TestReceiveAllocations(t *testing.T) {
	c := listen(t, Options{})
	for range 30 {
		triggerKernelEvent(t)
	}
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var rerr error
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := c.Receive(); err != nil && rerr == nil {
			rerr = err
		}
	})
	if rerr != nil {
		t.Fatalf("Receive: %v", rerr)
	}
	if allocs > 2 {
		t.Errorf("Receive made %.1f allocations per event, want at most 2", allocs)
	}
}

// FuzzSenderOf: any control message bytes and any address length describe some sender, without
// a panic, and only a well-formed kernel credential passes CheckSender.
func FuzzSenderOf(f *testing.F) {
	f.Add(uint32(unix.SizeofSockaddrNetlink), unix.UnixCredentials(&unix.Ucred{}))
	f.Add(uint32(unix.SizeofSockaddrNetlink), []byte{1, 2, 3})
	f.Add(uint32(0), append(unix.UnixRights(0), unix.UnixCredentials(&unix.Ucred{Uid: 5})...))
	f.Fuzz(func(t *testing.T, namelen uint32, oob []byte) {
		from := unix.RawSockaddrNetlink{Family: unix.AF_NETLINK}
		s := senderOf(&from, namelen, oob)
		if CheckSender(s) == nil && (namelen < unix.SizeofSockaddrNetlink || !s.HasCred) {
			t.Fatalf("senderOf(namelen %d, %x) = %+v passes as the kernel", namelen, oob, s)
		}
	})
}
