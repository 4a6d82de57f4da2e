// Package sysread reads small kernel files (sysfs, procfs) and opens module files with plain
// system calls.
//
// os.Open registers every descriptor with the Go runtime's poller: two fcntl calls and an
// epoll_ctl to add it, another to remove it at Close, and an fstat in os.ReadFile. sysfs files
// can be polled, so each registration also wakes the thread waiting in epoll_wait, for nothing:
// these reads never block. That is nine system calls and a thread wake-up where three do, on
// paths coldplug and the loader take for every module (its initstate, the uevent counter,
// the module file handed to finit_module), which counts in a slow early-boot guest.
package sysread
