package uevent

import (
	"errors"
	"fmt"
)

// ErrForged is wrapped by CheckSender's error for a message that did not come from the kernel.
var ErrForged = errors.New("uevent not sent by the kernel")

// Sender describes who sent a netlink datagram, as recvmsg reports it.
type Sender struct {
	// PortID is the sender's netlink port id (nl_pid). The kernel sends from port 0; a process
	// can never bind port 0 (binding 0 asks the kernel to pick a free id), so 0 proves the kernel.
	PortID uint32
	// Groups is the sender address's multicast group mask (nl_groups).
	Groups uint32
	// HasCred is true when the datagram carried SCM_CREDENTIALS (the socket has SO_PASSCRED).
	HasCred bool
	// UID and PID are the credentials' uid and pid when HasCred is set.
	UID, PID uint32
}

// CheckSender returns nil when s is the kernel: port id 0 and credentials with uid 0. Otherwise
// it returns an error wrapping ErrForged that names what did not match.
func CheckSender(s Sender) error {
	switch {
	case s.PortID != 0:
		return fmt.Errorf("%w: sender port id %d (the kernel's is 0)", ErrForged, s.PortID)
	case !s.HasCred:
		return fmt.Errorf("%w: no SCM_CREDENTIALS on the message (is SO_PASSCRED set?)", ErrForged)
	case s.UID != 0:
		return fmt.Errorf("%w: sender uid %d (the kernel's is 0)", ErrForged, s.UID)
	}
	return nil
}
