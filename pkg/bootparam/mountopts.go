package bootparam

import "strings"

// MountFlag is a generic mount(2) flag named in rootflags=. The values are Linux's MS_*
// constants; they are spelled out here so the parsing stays portable and testable.
type MountFlag uintptr

// The Linux mount(2) flags mount(8) accepts by name.
const (
	MountReadOnly    MountFlag = 0x1      // MS_RDONLY
	MountNoSUID      MountFlag = 0x2      // MS_NOSUID
	MountNoDev       MountFlag = 0x4      // MS_NODEV
	MountNoExec      MountFlag = 0x8      // MS_NOEXEC
	MountSync        MountFlag = 0x10     // MS_SYNCHRONOUS
	MountMandLock    MountFlag = 0x40     // MS_MANDLOCK
	MountDirSync     MountFlag = 0x80     // MS_DIRSYNC
	MountNoAtime     MountFlag = 0x400    // MS_NOATIME
	MountNoDirAtime  MountFlag = 0x800    // MS_NODIRATIME
	MountSilent      MountFlag = 0x8000   // MS_SILENT
	MountRelatime    MountFlag = 0x200000 // MS_RELATIME
	MountStrictAtime MountFlag = 0x1000000
	MountLazyTime    MountFlag = 0x2000000
)

// flagOptions maps mount(8) option names to the flag they set (set=true) or clear.
var flagOptions = map[string]struct {
	flag MountFlag
	set  bool
}{
	"ro": {MountReadOnly, true}, "rw": {MountReadOnly, false},
	"nosuid": {MountNoSUID, true}, "suid": {MountNoSUID, false},
	"nodev": {MountNoDev, true}, "dev": {MountNoDev, false},
	"noexec": {MountNoExec, true}, "exec": {MountNoExec, false},
	"sync": {MountSync, true}, "async": {MountSync, false},
	"mand": {MountMandLock, true}, "nomand": {MountMandLock, false},
	"dirsync":    {MountDirSync, true},
	"noatime":    {MountNoAtime, true},
	"atime":      {MountNoAtime, false},
	"nodiratime": {MountNoDirAtime, true}, "diratime": {MountNoDirAtime, false},
	"relatime": {MountRelatime, true}, "norelatime": {MountRelatime, false},
	"strictatime": {MountStrictAtime, true}, "nostrictatime": {MountStrictAtime, false},
	"lazytime": {MountLazyTime, true}, "nolazytime": {MountLazyTime, false},
	"defaults": {0, true},
}

// MountOptions turns rootflags= and ro/rw into mount(2) arguments the way mount(8) does:
// generic options (noatime, nodev, ...) become flags and the rest is passed to the filesystem
// as its data string, in order. The kernel itself passes rootflags= verbatim as data, where
// ext4 rejects "noatime"; splitting them is friendlier and does what users mean. ro/rw inside
// rootflags= override the separate ro/rw parameter.
func MountOptions(rootflags string, readOnly bool) (flags MountFlag, data string) {
	flags = MountSilent
	if readOnly {
		flags |= MountReadOnly
	}
	var rest []string
	for _, o := range strings.Split(rootflags, ",") {
		if o == "" {
			continue
		}
		f, ok := flagOptions[o]
		if !ok {
			rest = append(rest, o)
			continue
		}
		if f.set {
			flags |= f.flag
		} else {
			flags &^= f.flag
		}
	}
	return flags, strings.Join(rest, ",")
}
