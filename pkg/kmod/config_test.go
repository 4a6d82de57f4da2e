package kmod

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfig(t *testing.T) {
	root := filepath.Join("testdata", "conf")
	c, err := LoadConfig(root)
	if err != nil {
		t.Fatalf("LoadConfig(%q) = %v", root, err)
	}
	// Files are read in order of base name; etc's blacklist.conf hides lib's.
	var files []string
	for _, f := range c.Files {
		rel, _ := filepath.Rel(root, f)
		files = append(files, rel)
	}
	wantFiles := []string{
		"run/modprobe.d/10-run.conf",
		"lib/modprobe.d/50-net.conf",
		"usr/lib/modprobe.d/90-last.conf",
		"etc/modprobe.d/blacklist.conf",
	}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("LoadConfig files mismatch (-want +got):\n%s", diff)
	}

	t.Run("blacklist", func(t *testing.T) {
		for name, want := range map[string]bool{"pcspkr": true, "snd_pcsp": true, "snd-pcsp": true, "floppy": true, "e1000e": false} {
			if _, got := c.Blacklisted(name); got != want {
				t.Errorf("Blacklisted(%q) = %v, want %v", name, got, want)
			}
		}
	})
	t.Run("options", func(t *testing.T) {
		want := "debug=1 InterruptThrottleRate=1000 SmartPowerDownEnable=1 copybreak=0 last=1 cmdline=1"
		if got := c.Options("e1000e", ""); got != want {
			t.Errorf("Options(e1000e) = %q, want %q", got, want)
		}
	})
	t.Run("alias", func(t *testing.T) {
		tests := map[string][]string{"eth_0": {"e1000e"}, "net_pf_10": {"ipv6"}, "net_pf_1": nil}
		for in, want := range tests {
			if got := c.Alias(in); !cmp.Equal(got, want) {
				t.Errorf("Alias(%q) = %v, want %v", in, got, want)
			}
		}
	})
	t.Run("softdep", func(t *testing.T) {
		pre, post, ok := c.Softdeps("virtio_net")
		if !ok || !cmp.Equal(pre, []string{"failover"}) || !cmp.Equal(post, []string{"virtio_pci"}) {
			t.Errorf("Softdeps(virtio_net) = %v, %v, %v; want [failover], [virtio_pci], true", pre, post, ok)
		}
		if pre, _, ok := c.Softdeps("virtio_blk"); !ok || !cmp.Equal(pre, []string{"crc32c"}) {
			t.Errorf("Softdeps(virtio_blk) = %v, %v; want [crc32c] from pattern v*_blk", pre, ok)
		}
		if _, _, ok := c.Softdeps("e1000e"); ok {
			t.Errorf("Softdeps(e1000e) found a line, want none")
		}
	})
	t.Run("commands", func(t *testing.T) {
		if cmd, _, ok := c.Install("dccp"); !ok || cmd != "/bin/true" {
			t.Errorf("Install(dccp) = %q, %v; want /bin/true", cmd, ok)
		}
		if cmd, _, ok := c.Remove("nvidia"); !ok || cmd != "/sbin/rmmod nvidia" {
			t.Errorf("Remove(nvidia) = %q, %v", cmd, ok)
		}
	})
	t.Run("warnings", func(t *testing.T) {
		all := strings.Join(c.Warnings, "\n")
		for _, want := range []string{"50-net.conf:13: ignoring line starting with unknown command \"frobnicate\"",
			"50-net.conf:14: command include is deprecated", "50-net.conf:15: ignoring \"alias\" line"} {
			if !strings.Contains(all, want) {
				t.Errorf("Warnings = %q, want one containing %q", c.Warnings, want)
			}
		}
	})
}

func TestLoadConfigMissingRoot(t *testing.T) {
	c, err := LoadConfig(t.TempDir())
	if err != nil {
		t.Fatalf("LoadConfig(empty root) = %v, want no error", err)
	}
	if len(c.Files) != 0 || c.Options("x", "") != "" {
		t.Errorf("LoadConfig(empty root) = %+v, want empty", c)
	}
}

func FuzzConfigParse(f *testing.F) {
	for _, s := range []string{
		"alias eth-* e1000e\noptions e1000e a=1 \\\n b=2\n",
		"softdep x pre: a b post: c\ninstall y /bin/true\n",
		"blacklist\nalias [x\noptions\n#c\n\\",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Config
		c.Parse(data, "fuzz.conf")
		c.ParseCmdline(string(data), "fuzz")
		c.Alias("eth_0")
		c.Options("e1000e", "x")
		c.Softdeps("x")
		c.Install("y")
		c.Blacklisted("z")
	})
}
