package bootparam

import (
	"fmt"
	"net/netip"
	"strings"
)

// IPMode is how an interface gets its address.
type IPMode int

const (
	// IPDHCP asks a DHCP server (ip=dhcp, ip=on, ip=any, ip=both, ip=bootp, or an empty
	// autoconf field with no client address).
	IPDHCP IPMode = iota + 1
	// IPStatic uses the address given in ip= itself.
	IPStatic
)

// IPConfig is the kernel's nfsroot-style ip= parameter:
//
//	ip=<client-ip>:<server-ip>:<gw-ip>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>:<ntp0>
//
// or a bare autoconf method (ip=dhcp).
type IPConfig struct {
	Mode IPMode
	// Device is the interface to configure; "" means every Ethernet interface that appears.
	Device   string
	Client   netip.Addr
	Server   netip.Addr
	Gateway  netip.Addr
	Netmask  netip.Addr
	Hostname string
	DNS      []netip.Addr
}

// ParseIP parses the value of ip=. It returns (nil, nil) for "off" and "none".
func ParseIP(v string) (*IPConfig, error) {
	switch v {
	case "off", "none":
		return nil, nil
	case "", "on", "any", "dhcp", "bootp", "both":
		return &IPConfig{Mode: IPDHCP}, nil
	case "rarp":
		return nil, fmt.Errorf("RARP is not supported; use ip=dhcp")
	}
	if !strings.Contains(v, ":") {
		return nil, fmt.Errorf("unknown autoconfiguration method %q (want dhcp, on, any, off)", v)
	}
	f := strings.Split(v, ":")
	for len(f) < 10 {
		f = append(f, "")
	}
	if len(f) > 10 {
		return nil, fmt.Errorf("%d fields, want at most 10 (client:server:gw:netmask:hostname:device:autoconf:dns0:dns1:ntp0)", len(f))
	}
	c := &IPConfig{Hostname: f[4], Device: f[5]}
	addr := func(name, s string, dst *netip.Addr) error {
		if s == "" {
			return nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return fmt.Errorf("%s %q is not an IPv4 address", name, s)
		}
		*dst = a
		return nil
	}
	for _, x := range []struct {
		name string
		s    string
		dst  *netip.Addr
	}{
		{"client-ip", f[0], &c.Client}, {"server-ip", f[1], &c.Server}, {"gw-ip", f[2], &c.Gateway},
		{"netmask", f[3], &c.Netmask},
	} {
		if err := addr(x.name, x.s, x.dst); err != nil {
			return nil, err
		}
	}
	for i, s := range f[7:9] {
		var a netip.Addr
		if err := addr(fmt.Sprintf("dns%d-ip", i), s, &a); err != nil {
			return nil, err
		}
		if a.IsValid() {
			c.DNS = append(c.DNS, a)
		}
	}
	if c.Netmask.IsValid() {
		if _, err := maskBits(c.Netmask); err != nil {
			return nil, err
		}
	}
	switch f[6] {
	case "off", "none":
		c.Mode = IPStatic
	case "on", "any", "dhcp", "bootp", "both":
		c.Mode = IPDHCP
	case "":
		if c.Client.IsValid() {
			c.Mode = IPStatic
		} else {
			c.Mode = IPDHCP
		}
	default:
		return nil, fmt.Errorf("unknown autoconfiguration method %q (want dhcp, on, any, off)", f[6])
	}
	if c.Mode == IPStatic && !c.Client.IsValid() {
		return nil, fmt.Errorf("static configuration (autoconf %q) needs a client-ip", f[6])
	}
	return c, nil
}

// Prefix returns the client address with the netmask's prefix length; without a netmask the
// classful default the kernel would use (a /8, /16 or /24) is taken.
func (c *IPConfig) Prefix() (netip.Prefix, error) {
	if !c.Client.IsValid() {
		return netip.Prefix{}, fmt.Errorf("no client address")
	}
	bits := 24
	if c.Netmask.IsValid() {
		n, err := maskBits(c.Netmask)
		if err != nil {
			return netip.Prefix{}, err
		}
		bits = n
	} else {
		switch first := c.Client.As4()[0]; {
		case first < 128:
			bits = 8
		case first < 192:
			bits = 16
		}
	}
	return netip.PrefixFrom(c.Client, bits), nil
}

// maskBits converts a dotted netmask to a prefix length, refusing non-contiguous masks.
func maskBits(m netip.Addr) (int, error) {
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return 0, fmt.Errorf("netmask %s is not contiguous", m)
	}
	return n, nil
}
