package main

import (
	"reflect"
	"testing"
)

// The histogram as the kernel prints it (Documentation/trace/histogram.rst's format, with
// counts from a 6.1 guest's coldplug run).
const histSample = `# event histogram
#
# trigger info: hist:keys=common_pid.execname,id.syscall:vals=hitcount:sort=hitcount:size=8192 [active]
#

{ common_pid: coldplug        [       111], id: sys_nanosleep           [ 35] } hitcount:        964
{ common_pid: coldplug        [       117], id: sys_getdents64          [217] } hitcount:        628
{ common_pid: sh              [        98], id: sys_read                [  0] } hitcount:          3
{ common_pid: coldplugcheck   [         1], id: sys_futex               [202] } hitcount:         40

Totals:
    Hits: 1635
    Entries: 4
    Dropped: 0
`

func TestParseHist(t *testing.T) {
	got := parseHist(histSample)
	want := []histEntry{
		{comm: "coldplug", tid: 111, syscall: "nanosleep", count: 964},
		{comm: "coldplug", tid: 117, syscall: "getdents64", count: 628},
		{comm: "sh", tid: 98, syscall: "read", count: 3},
		{comm: "coldplugcheck", tid: 1, syscall: "futex", count: 40},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseHist =\n%+v\nwant\n%+v", got, want)
	}
	if got := parseHist("Totals:\n    Hits: 0\n"); len(got) != 0 {
		t.Errorf("parseHist(no entries) = %+v, want none", got)
	}
}

func TestTop(t *testing.T) {
	calls := map[string]int{"read": 3, "openat": 9, "close": 9, "futex": 1}
	if got, want := top(calls, 3), "close=9 openat=9 read=3"; got != want {
		t.Errorf("top = %q, want %q", got, want)
	}
}
