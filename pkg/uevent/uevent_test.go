package uevent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseKernelMessages(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Event // Vars is checked only for the keys listed in vars
		vars map[string]string
	}{
		{
			file: "pci-add.bin",
			want: Event{Action: "add", DevPath: "/devices/pci0000:00/0000:00:03.0", Subsystem: "pci",
				Modalias: "pci:v000015ADd000007B0sv000015ADsd000007B0bc02sc00i00", Seqnum: 860},
			vars: map[string]string{"PCI_ID": "15AD:07B0", "PCI_SLOT_NAME": "0000:00:03.0", "PCI_CLASS": "20000"},
		},
		{
			file: "pci-bind.bin",
			want: Event{Action: "bind", DevPath: "/devices/pci0000:00/0000:00:04.0", Subsystem: "pci",
				Modalias: "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", Seqnum: 699},
			vars: map[string]string{"DRIVER": "virtio-pci"},
		},
		{
			file: "virtio-add.bin",
			want: Event{Action: "add", DevPath: "/devices/pci0000:00/0000:00:04.0/virtio0", Subsystem: "virtio",
				Modalias: "virtio:d00000001v00001AF4", Seqnum: 698},
		},
		{
			file: "scsi-add.bin",
			want: Event{Action: "add", DevPath: "/devices/pci0000:00/0000:00:06.0/virtio1/host6/target6:0:0/6:0:0:0",
				Subsystem: "scsi", Modalias: "scsi:t-0x00", Seqnum: 823},
			vars: map[string]string{"DEVTYPE": "scsi_device"},
		},
		{
			file: "module-add.bin",
			want: Event{Action: "add", DevPath: "/module/virtio_net", Subsystem: "module", Seqnum: 815},
		},
		{
			file: "net-add.bin",
			want: Event{Action: "add", DevPath: "/devices/pci0000:00/0000:00:04.0/virtio0/net/eth2", Subsystem: "net", Seqnum: 810},
			vars: map[string]string{"INTERFACE": "eth2", "IFINDEX": "4", "MODALIAS": ""},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b := readTestdata(t, tc.file)
			got, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", tc.file, err)
			}
			vars := got.Vars()
			if diff := cmp.Diff(tc.want, *got, ignoreEnv); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tc.file, diff)
			}
			for k, v := range tc.vars {
				if vars[k] != v {
					t.Errorf("Parse(%s).Vars[%q] = %q, want %q", tc.file, k, vars[k], v)
				}
			}
			if vars["ACTION"] != tc.want.Action || vars["DEVPATH"] != tc.want.DevPath {
				t.Errorf("Parse(%s).Vars lacks ACTION/DEVPATH: %v", tc.file, vars)
			}
			// The event must not share memory with the datagram buffer, which Conn reuses.
			for i := range b {
				b[i] = 'X'
			}
			if got.DevPath != tc.want.DevPath {
				t.Errorf("Parse(%s).DevPath changed to %q after the buffer was overwritten", tc.file, got.DevPath)
			}
		})
	}
}

// libudevMessage builds a libudev monitor datagram: "libudev\0", magic 0xfeedcafe in network
// order, a header of offsets and filter hashes, then the properties. (Synthetic: udevd does not
// run where the fixtures were captured; the layout follows systemd's monitor_netlink_header.)
func libudevMessage() []byte {
	props := []byte("ACTION=add\x00DEVPATH=/devices/pci0000:00/0000:00:03.0\x00SUBSYSTEM=pci\x00SEQNUM=860\x00")
	var b bytes.Buffer
	b.WriteString("libudev\x00")
	b.Write([]byte{0xfe, 0xed, 0xca, 0xfe})
	hdr := make([]byte, 32)
	hdr[3] = 40 // header_size
	hdr[7] = 40 // properties_off
	hdr[11] = byte(len(props))
	b.Write(hdr)
	b.Write(props)
	return b.Bytes()
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		libudev bool   // want ErrLibudev instead of ErrMalformed
		want    string // a substring of the error
	}{
		{name: "empty", in: "", want: "empty message"},
		{name: "libudev", in: string(libudevMessage()), libudev: true, want: "libudev"},
		{name: "no at", in: "add/devices/x\x00ACTION=add\x00", want: "no '@'"},
		{name: "empty action", in: "@/devices/x\x00", want: "not a kernel action"},
		{name: "uppercase action", in: "ADD@/devices/x\x00", want: "not a kernel action"},
		{name: "binary action", in: "a\xffd@/devices/x\x00", want: "not a kernel action"},
		{name: "relative path", in: "add@devices/x\x00", want: "must start with '/'"},
		{name: "empty path", in: "add@\x00", want: "must start with '/'"},
		{name: "field without =", in: "add@/devices/x\x00ACTION\x00", want: "not KEY=VALUE"},
		{name: "field starting with =", in: "add@/devices/x\x00=add\x00", want: "not KEY=VALUE"},
		{name: "bad key byte", in: "add@/devices/x\x00AC TION=add\x00", want: "variable name"},
		{name: "duplicate key", in: "add@/devices/x\x00MODALIAS=a\x00MODALIAS=b\x00", want: "appears twice"},
		{name: "duplicate key among many", in: "add@/devices/x\x00" + manyVars(40) + "K3=x\x00", want: "K3 appears twice"},
		{name: "duplicate key past the look-back", in: "add@/devices/x\x00" + manyVars(40) + "Z=1\x00\x00Z=2\x00", want: "Z appears twice"},
		{name: "action mismatch", in: "add@/devices/x\x00ACTION=remove\x00", want: "ACTION="},
		{name: "devpath mismatch", in: "add@/devices/x\x00DEVPATH=/devices/y\x00", want: "DEVPATH="},
		{name: "seqnum not a number", in: "add@/devices/x\x00SEQNUM=12a\x00", want: "SEQNUM"},
		{name: "seqnum overflow", in: "add@/devices/x\x00SEQNUM=18446744073709551616\x00", want: "SEQNUM"},
		{name: "too large", in: "add@/devices/x\x00A=" + strings.Repeat("x", MaxSize) + "\x00", want: "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", clip(tc.in), got)
			}
			wantIs := ErrMalformed
			if tc.libudev {
				wantIs = ErrLibudev
			}
			if !errors.Is(err, wantIs) {
				t.Errorf("Parse(%q) error %v does not wrap %v", clip(tc.in), err, wantIs)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) error %q does not mention %q", clip(tc.in), err, tc.want)
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Event
		vars map[string]string
	}{
		{
			name: "header only",
			in:   "change@/devices/virtual/mem/null",
			want: Event{Action: "change", DevPath: "/devices/virtual/mem/null"},
			vars: map[string]string{},
		},
		{
			name: "empty fields and max seqnum",
			in:   "remove@/devices/x\x00\x00ACTION=remove\x00\x00SEQNUM=18446744073709551615\x00",
			want: Event{Action: "remove", DevPath: "/devices/x", Seqnum: 18446744073709551615},
			vars: map[string]string{"ACTION": "remove", "SEQNUM": "18446744073709551615"},
		},
		{
			name: "value with = and spaces",
			in:   "add@/devices/x\x00MODALIAS=of:NfooT(null)Cvendor,a=b c\x00",
			want: Event{Action: "add", DevPath: "/devices/x", Modalias: "of:NfooT(null)Cvendor,a=b c"},
			vars: map[string]string{"MODALIAS": "of:NfooT(null)Cvendor,a=b c"},
		},
		{
			name: "unknown action word",
			in:   "frobnicate@/devices/x\x00",
			want: Event{Action: "frobnicate", DevPath: "/devices/x"},
			vars: map[string]string{},
		},
		{
			name: "many variables",
			in:   "add@/devices/x\x00" + manyVars(100) + "SEQNUM=7\x00",
			want: Event{Action: "add", DevPath: "/devices/x", Seqnum: 7},
			vars: func() map[string]string {
				m := map[string]string{"SEQNUM": "7"}
				for i := range 100 {
					m[fmt.Sprintf("K%d", i)] = fmt.Sprint(i)
				}
				return m
			}(),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, *got, ignoreEnv); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if diff := cmp.Diff(tc.vars, got.Vars()); diff != "" {
				t.Errorf("Parse(%q).Vars() mismatch (-want +got):\n%s", tc.in, diff)
			}
			for k, v := range tc.vars {
				if got, ok := got.Lookup(k); !ok || got != v {
					t.Errorf("Parse(%q).Lookup(%q) = %q, %v; want %q, true", tc.in, k, got, ok, v)
				}
			}
			if v, ok := got.Lookup("NOPE"); ok || got.Get("NOPE") != "" {
				t.Errorf("Parse(%q).Lookup(NOPE) = %q, %v; want absent", tc.in, v, ok)
			}
		})
	}
}

// marshal writes e back in the kernel's format, variables sorted by name.
func marshal(e *Event) []byte {
	var b bytes.Buffer
	b.WriteString(e.Action + "@" + e.DevPath + "\x00")
	vars := e.Vars()
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + "=" + vars[k] + "\x00")
	}
	return b.Bytes()
}

func FuzzParse(f *testing.F) {
	// Seeds live in testdata/fuzz/FuzzParse (the captured kernel messages, libudev, garbage).
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			if e != nil {
				t.Fatalf("Parse returned an event and an error: %v", err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLibudev) {
				t.Fatalf("Parse error %v wraps neither ErrMalformed nor ErrLibudev", err)
			}
			return
		}
		if e.Action == "" || !strings.HasPrefix(e.DevPath, "/") {
			t.Fatalf("Parse accepted %q with action %q path %q", b, e.Action, e.DevPath)
		}
		if v, ok := e.Lookup("ACTION"); ok && v != e.Action {
			t.Fatalf("Parse accepted ACTION=%q for action %q", v, e.Action)
		}
		if e.Modalias != e.Get("MODALIAS") || e.Subsystem != e.Get("SUBSYSTEM") {
			t.Fatalf("Parse: fields disagree with Vars: %+v", e)
		}
		// What parsed once must parse again to the same event.
		again, err := Parse(marshal(e))
		if err != nil {
			t.Fatalf("Parse(marshal(Parse(%q))) error: %v", b, err)
		}
		if diff := cmp.Diff(e, again, ignoreEnv); diff != "" {
			t.Fatalf("round trip of %q mismatch (-first +second):\n%s", b, diff)
		}
		if diff := cmp.Diff(e.Vars(), again.Vars()); diff != "" {
			t.Fatalf("round trip of %q: variables mismatch (-first +second):\n%s", b, diff)
		}
	})
}

func TestEventString(t *testing.T) {
	e, err := Parse(readTestdata(t, "virtio-add.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := "KERNEL[698] add /devices/pci0000:00/0000:00:04.0/virtio0 (virtio) virtio:d00000001v00001AF4"
	if got := e.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// ignoreEnv compares Events by their exported fields; the variables are compared through Vars.
var ignoreEnv = cmpopts.IgnoreUnexported(Event{})

// manyVars returns n variables K0=0 ... as message fields.
func manyVars(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "K%d=%d\x00", i, i)
	}
	return b.String()
}
