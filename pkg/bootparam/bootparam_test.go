package bootparam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kmodboot/kmodboot/pkg/blockid"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in           string
		params, args []string
	}{
		{"", nil, nil},
		{"  console=ttyS0   root=/dev/vda\n", []string{"console=ttyS0", "root=/dev/vda"}, nil},
		{`root="LABEL=my disk" quiet`, []string{"root=LABEL=my disk", "quiet"}, nil},
		{`"root=LABEL=my disk"`, []string{"root=LABEL=my disk"}, nil},
		{`a="" b`, []string{"a=", "b"}, nil},
		{"ro -- single --verbose", []string{"ro"}, []string{"single", "--verbose"}},
		{"ro --", []string{"ro"}, nil},
		{`x="unterminated quote`, []string{"x=unterminated quote"}, nil},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, a := Split(tc.in)
			if !cmp.Equal(p, tc.params) || !cmp.Equal(a, tc.args) {
				t.Errorf("Split(%q) = %q, %q, want %q, %q", tc.in, p, a, tc.params, tc.args)
			}
		})
	}
}

func mustSpec(t *testing.T, s string) blockid.Spec {
	t.Helper()
	sp, err := blockid.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func defaults() Params {
	return Params{ReadOnly: true, RootWait: DefaultRootWait, Coldplug: true, ColdplugTimeout: DefaultColdplugTimeout}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want func(p *Params)
	}{
		{"empty", "", func(p *Params) {}},
		{"debian", "BOOT_IMAGE=/vmlinuz root=UUID=6A1F0C52-3D6E-4B8A-9C71-2F5E8D0B4A13 ro quiet",
			func(p *Params) { p.Root = mustSpec(t, "UUID=6A1F0C52-3D6E-4B8A-9C71-2F5E8D0B4A13") }},
		{"vmtest", "console=ttyS0 root=LABEL=kmodboot-root rootfstype=ext4 rootwait=20 rw ip=dhcp",
			func(p *Params) {
				p.Root = mustSpec(t, "LABEL=kmodboot-root")
				p.RootFSTypes = []string{"ext4"}
				p.RootWait = 20 * time.Second
				p.ReadOnly = false
				p.IP = &IPConfig{Mode: IPDHCP}
			}},
		{"last ro/rw wins", "rw ro", func(p *Params) {}},
		{"rw", "ro rw", func(p *Params) { p.ReadOnly = false }},
		{"rootwait bare", "rootwait", func(p *Params) { p.RootWait = DefaultRootWaitFlag }},
		{"rootdelay", "rootdelay=3", func(p *Params) { p.RootDelay = 3 * time.Second }},
		{"rootwait duration", "rootwait=1500ms", func(p *Params) { p.RootWait = 1500 * time.Millisecond }},
		{"fstype list", "rootfstype=ext4,,xfs", func(p *Params) { p.RootFSTypes = []string{"ext4", "xfs"} }},
		{"rootflags", "rootflags=noatime,data=journal", func(p *Params) { p.RootFlags = "noatime,data=journal" }},
		{"init and args", "init=/bin/sh -- -c echo", func(p *Params) {
			p.Init = "/bin/sh"
			p.InitArgs = []string{"-c", "echo"}
		}},
		{"last root wins", "root=/dev/sda1 root=PARTUUID=5eedcafe-02",
			func(p *Params) { p.Root = mustSpec(t, "PARTUUID=5eedcafe-02") }},
		{"ip off", "ip=dhcp ip=off", func(p *Params) {}},
		{"kmodboot switches", "kmodboot.coldplug=0 kmodboot.coldplug_timeout=5s kmodboot.verbose kmodboot.rescue=1 kmodboot.cpu_features=with-devices",
			func(p *Params) {
				p.Coldplug = false
				p.ColdplugTimeout = 5 * time.Second
				p.ColdplugVerbose = true
				p.Rescue = true
				p.ColdplugCPUFeatures = "with-devices"
			}},
		{"unrelated params ignored", "rootfoo=1 roo ro=1 modprobe.blacklist=e1000 virtio_net.napi_tx=0",
			func(p *Params) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := defaults()
			tc.want(&want)
			got, errs := Parse(tc.in)
			if len(errs) != 0 {
				t.Fatalf("Parse(%q) errors: %v", tc.in, errs)
			}
			if diff := cmp.Diff(&want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in, param string
	}{
		{"root=", "root="},
		{"root=sda1", "root=sda1"},
		{"root=LABEL=", "root=LABEL="},
		{"rootwait=soon", "rootwait=soon"},
		{"rootdelay=-1", "rootdelay=-1"},
		{"init=sbin/init", "init=sbin/init"},
		{"ip=carrier-pigeon", "ip=carrier-pigeon"},
		{"kmodboot.coldplug=maybe", "kmodboot.coldplug=maybe"},
		{"kmodboot.coldplug_timeout=0", "kmodboot.coldplug_timeout=0"},
		{"kmodboot.cpu_features=never", "kmodboot.cpu_features=never"},
		{"kmodboot.cpu_features", "kmodboot.cpu_features"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, errs := Parse("console=ttyS0 " + tc.in + " rw")
			if len(errs) != 1 {
				t.Fatalf("Parse(%q) errors = %v, want exactly one", tc.in, errs)
			}
			var pe *Error
			if !errors.As(errs[0], &pe) || pe.Param != tc.param {
				t.Errorf("Parse(%q) error = %v, want *Error for %q", tc.in, errs[0], tc.param)
			}
			if !strings.Contains(errs[0].Error(), tc.param) {
				t.Errorf("error %q does not name the parameter %q", errs[0], tc.param)
			}
			if p.ReadOnly {
				t.Errorf("Parse(%q): the parameters after the bad one were not applied", tc.in)
			}
		})
	}
}

func TestParseIP(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		in   string
		want *IPConfig
	}{
		{"off", nil},
		{"none", nil},
		{"dhcp", &IPConfig{Mode: IPDHCP}},
		{"on", &IPConfig{Mode: IPDHCP}},
		{":::::eth1:dhcp", &IPConfig{Mode: IPDHCP, Device: "eth1"}},
		{"::::::", &IPConfig{Mode: IPDHCP}},
		{"10.0.2.15::10.0.2.2:255.255.255.0:guest:eth0:off:10.0.2.3",
			&IPConfig{Mode: IPStatic, Client: a("10.0.2.15"), Gateway: a("10.0.2.2"),
				Netmask: a("255.255.255.0"), Hostname: "guest", Device: "eth0", DNS: []netip.Addr{a("10.0.2.3")}}},
		{"192.168.1.5:::::", &IPConfig{Mode: IPStatic, Client: a("192.168.1.5")}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseIP(tc.in)
			if err != nil {
				t.Fatalf("ParseIP(%q) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("ParseIP(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
	for _, in := range []string{"rarp", "dhcp6", "1.2.3:::::", "::::::bogus", ":::255.0.255.0:::",
		"::::::off", "1:2:3:4:5:6:7:8:9:10:11", "fe80::1::::::"} {
		t.Run("bad "+in, func(t *testing.T) {
			if got, err := ParseIP(in); err == nil {
				t.Errorf("ParseIP(%q) = %+v, nil, want an error", in, got)
			}
		})
	}
}

func TestIPPrefix(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"10.0.2.15::::::off", "10.0.2.15/8"},
		{"172.16.0.9::::::off", "172.16.0.9/16"},
		{"192.168.7.9::::::off", "192.168.7.9/24"},
		{"10.0.2.15:::255.255.255.128:::off", "10.0.2.15/25"},
	} {
		c, err := ParseIP(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Prefix()
		if err != nil || p.String() != tc.want {
			t.Errorf("ParseIP(%q).Prefix() = %v, %v, want %s", tc.in, p, err, tc.want)
		}
	}
}

func TestMountOptions(t *testing.T) {
	for _, tc := range []struct {
		flags    string
		ro       bool
		want     MountFlag
		wantData string
	}{
		{"", true, MountSilent | MountReadOnly, ""},
		{"", false, MountSilent, ""},
		{"noatime,data=journal,nodev", false, MountSilent | MountNoAtime | MountNoDev, "data=journal"},
		{"rw", true, MountSilent, ""},
		{"ro,errors=remount-ro", false, MountSilent | MountReadOnly, "errors=remount-ro"},
		{"nosuid,suid,defaults,,subvol=@", false, MountSilent, "subvol=@"},
	} {
		t.Run(tc.flags, func(t *testing.T) {
			f, d := MountOptions(tc.flags, tc.ro)
			if f != tc.want || d != tc.wantData {
				t.Errorf("MountOptions(%q, %v) = %#x, %q, want %#x, %q", tc.flags, tc.ro, f, d, tc.want, tc.wantData)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`console=ttyS0 root="LABEL=a b" ip=10.0.2.15::10.0.2.2:255.255.255.0:h:eth0:off -- x`,
		"root=PARTUUID=abc/PARTNROFF=2 rootwait=5 init=/sbin/init rootflags=noatime",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, _ := Parse(s)
		if p == nil {
			t.Fatalf("Parse(%q) = nil", s)
		}
		MountOptions(p.RootFlags, p.ReadOnly)
	})
}
