package bootparam

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestMountFlagValues pins the portable constants to Linux's.
func TestMountFlagValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  MountFlag
		want uintptr
	}{
		{"MS_RDONLY", MountReadOnly, unix.MS_RDONLY},
		{"MS_NOSUID", MountNoSUID, unix.MS_NOSUID},
		{"MS_NODEV", MountNoDev, unix.MS_NODEV},
		{"MS_NOEXEC", MountNoExec, unix.MS_NOEXEC},
		{"MS_SYNCHRONOUS", MountSync, unix.MS_SYNCHRONOUS},
		{"MS_MANDLOCK", MountMandLock, unix.MS_MANDLOCK},
		{"MS_DIRSYNC", MountDirSync, unix.MS_DIRSYNC},
		{"MS_NOATIME", MountNoAtime, unix.MS_NOATIME},
		{"MS_NODIRATIME", MountNoDirAtime, unix.MS_NODIRATIME},
		{"MS_SILENT", MountSilent, unix.MS_SILENT},
		{"MS_RELATIME", MountRelatime, unix.MS_RELATIME},
		{"MS_STRICTATIME", MountStrictAtime, unix.MS_STRICTATIME},
		{"MS_LAZYTIME", MountLazyTime, unix.MS_LAZYTIME},
	} {
		if uintptr(tc.got) != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}
