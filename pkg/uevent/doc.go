// Package uevent receives and parses the kernel's device events (uevents), the messages the
// kernel multicasts on a NETLINK_KOBJECT_UEVENT socket whenever a device, driver or module is
// added, removed, bound or changed.
//
// # Message format
//
// A kernel uevent is one datagram: a header "ACTION@DEVPATH", then KEY=VALUE variables, each
// terminated by a NUL byte:
//
//	add@/devices/pci0000:00/0000:00:03.0\x00ACTION=add\x00DEVPATH=/devices/...\x00
//	SUBSYSTEM=pci\x00MODALIAS=pci:v00001AF4d00001000...\x00SEQNUM=1042\x00
//
// Parse reads that format and nothing else: it refuses libudev's re-broadcasts (which begin with
// "libudev\x00" and a binary header, and are sent on another multicast group) and anything that is
// not a well-formed kernel message, with an error saying what is wrong. Parse is portable and is
// fuzzed; it never panics on bad input.
//
// # Trusting the sender
//
// Any process with CAP_NET_ADMIN may send a datagram to the kernel's multicast group, so a
// listener that loads drivers must check who sent each message. Conn (Linux only) accepts a
// message only when its netlink sender port id is 0, which only the kernel can have, and its
// SCM_CREDENTIALS say uid 0; every other message is dropped and counted (see CheckSender and
// Stats). The check is a portable function so it is tested with crafted senders anywhere.
//
// # Lost events
//
// When events arrive faster than they are read, the kernel drops them and the next receive fails
// with ENOBUFS. Conn asks for a large receive buffer (SO_RCVBUFFORCE, falling back to SO_RCVBUF)
// so this is rare, and reports it as ErrOverflow: the caller cannot know what it missed and must
// rescan sysfs, which is what package coldplug does.
package uevent
