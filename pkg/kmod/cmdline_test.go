package kmod

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitCmdline(t *testing.T) {
	tests := []struct {
		name, in string
		want     []KernelArg
	}{
		{"empty", "", nil},
		{"blanks", " \t\n", nil},
		{"plain", "quiet root=/dev/vda1\n", []KernelArg{{Param: "quiet"}, {Param: "root", Value: "/dev/vda1", HasValue: true}}},
		{"quoted value", `e1000.name="a b" x`, []KernelArg{{Param: "e1000.name", Value: "a b", HasValue: true}, {Param: "x"}}},
		{"quoted whole", `"e1000.name=a b" x`, []KernelArg{{Param: "e1000.name", Value: "a b", HasValue: true}, {Param: "x"}}},
		{"quoted param only", `"a b"`, []KernelArg{{Param: "a b"}}},
		{"unterminated quote", `a.b="c d`, []KernelArg{{Param: "a.b", Value: "c d", HasValue: true}}},
		{"empty value", "a.b=", []KernelArg{{Param: "a.b", HasValue: true}}},
		{"second equals is value", "a.b=c=d", []KernelArg{{Param: "a.b", Value: "c=d", HasValue: true}}},
		{"leading equals is no separator", "=x", []KernelArg{{Param: "=x"}}},
		{"stops at dashes", "a.b=1 -- c.d=2", []KernelArg{{Param: "a.b", Value: "1", HasValue: true}}},
		{"dashes with value do not stop", "--=x c", []KernelArg{{Param: "--", Value: "x", HasValue: true}, {Param: "c"}}},
		{"tabs and newlines", "a\tb\nc", []KernelArg{{Param: "a"}, {Param: "b"}, {Param: "c"}}},
		{"lone quote", `"`, []KernelArg{{Param: ""}}},
		{"quote value only", `a="`, []KernelArg{{Param: "a", HasValue: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitCmdline(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SplitCmdline(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseCmdline(t *testing.T) {
	var c Config
	c.ParseCmdline(`BOOT_IMAGE=/vmlinuz root=UUID=1 ro modprobe.blacklist=floppy,pcspkr `+
		`e1000e.InterruptThrottleRate=3000 virtio-net.napi_tx=1 "snd_hda_intel.model=a b" `+
		`modprobe.blacklist=nouveau usbcore.autosuspend=-1 .x=1 y.=2 foo.bool -- e1000e.after=1`+"\n", "/proc/cmdline")
	for _, name := range []string{"floppy", "pcspkr", "nouveau"} {
		if _, ok := c.Blacklisted(name); !ok {
			t.Errorf("Blacklisted(%q) = false, want true", name)
		}
	}
	if src, ok := c.Blacklisted("e1000e"); ok {
		t.Errorf("Blacklisted(e1000e) = true (%s), want false", src)
	}
	tests := []struct{ module, want string }{
		{"e1000e", "InterruptThrottleRate=3000"},
		{"virtio_net", "napi_tx=1"},
		{"snd_hda_intel", `model="a b"`},
		{"usbcore", "autosuspend=-1"},
		{"foo", "bool"},
		{"y", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := c.Options(tt.module, ""); got != tt.want {
			t.Errorf("Options(%q) = %q, want %q", tt.module, got, tt.want)
		}
	}
}

func FuzzSplitCmdline(f *testing.F) {
	for _, s := range []string{"", `a.b="c d" e`, `"x=y z"`, "a -- b", `"`, `a="`, "=", "\t\"\"=\"\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := SplitCmdline(s)
		var c Config
		c.ParseCmdline(s, "fuzz")
		for _, a := range args {
			if !a.HasValue && a.Param == "--" {
				t.Fatalf("SplitCmdline(%q) returned the \"--\" terminator as %+v", s, a)
			}
			if !a.HasValue && a.Value != "" {
				t.Fatalf("SplitCmdline(%q): %+v has a value but no '='", s, a)
			}
			if !strings.Contains(s, a.Param) {
				t.Fatalf("SplitCmdline(%q): param %q is not part of the input", s, a.Param)
			}
		}
		// A parameter re-joined without blanks or quotes splits back to itself.
		for _, a := range args {
			if strings.ContainsAny(a.Param+a.Value, " \t\n\v\f\r\"") || a.Param == "--" || strings.HasPrefix(a.Param, "=") || a.Param == "" {
				continue
			}
			in := a.Param
			if a.HasValue {
				in += "=" + a.Value
			}
			got := SplitCmdline(in)
			if len(got) != 1 || got[0] != a {
				t.Fatalf("SplitCmdline(%q) = %+v, want [%+v]", in, got, a)
			}
		}
	})
}
