package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// histTrigger counts every system call by thread (with its command name) and call number.
const histTrigger = "hist:keys=common_pid.execname,id.syscall:vals=hitcount:size=8192"

const sysEnter = tracefs + "/events/raw_syscalls/sys_enter/"

// countSyscalls sets a tracefs histogram on raw_syscalls:sys_enter; the function it returns
// prints the counts of the method's processes (every command but this one), then removes the
// histogram: a KMODBOOT-SYSCALLS line per command name with its calls, and for coldplug one per
// thread, which shows what the Go runtime's threads do (the monitor thread's nanosleeps, the
// scheduler's clock reads when the clocksource is not one the vDSO reads).
func countSyscalls() (func(), error) {
	if err := mountTracefs(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(sysEnter+"trigger", []byte(histTrigger), 0); err != nil {
		return nil, fmt.Errorf("set the histogram trigger on raw_syscalls:sys_enter (does the kernel have CONFIG_HIST_TRIGGERS?): %w", err)
	}
	return func() {
		b, err := os.ReadFile(sysEnter + "hist")
		os.WriteFile(sysEnter+"trigger", []byte("!"+histTrigger), 0)
		if err != nil {
			fmt.Printf("KMODBOOT-SYSCALLS FAIL: read the histogram: %v\n", err)
			return
		}
		es := parseHist(string(b))
		if len(es) == 0 {
			fmt.Printf("KMODBOOT-SYSCALLS FAIL: no entries in the histogram (%d bytes): %q\n", len(b), string(b[:min(len(b), 600)]))
		}
		printSyscalls(es)
	}, nil
}

// histEntry is one line of the histogram.
type histEntry struct {
	comm    string
	tid     int
	syscall string
	count   int
}

var histLine = regexp.MustCompile(`common_pid:\s*(\S*)\s*\[\s*(\d+)\].*id:\s*(\S+)\s*\[\s*\d+\].*hitcount:\s*(\d+)`)

func parseHist(s string) []histEntry {
	var out []histEntry
	for _, l := range strings.Split(s, "\n") {
		m := histLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		tid, _ := strconv.Atoi(m[2])
		n, _ := strconv.Atoi(m[4])
		out = append(out, histEntry{comm: m[1], tid: tid, syscall: strings.TrimPrefix(m[3], "sys_"), count: n})
	}
	return out
}

func printSyscalls(es []histEntry) {
	byComm := map[string]map[string]int{}
	byThread := map[string]map[int]map[string]int{}
	for _, e := range es {
		if e.comm == "coldplugcheck" || e.comm == "" {
			continue
		}
		if byComm[e.comm] == nil {
			byComm[e.comm], byThread[e.comm] = map[string]int{}, map[int]map[string]int{}
		}
		byComm[e.comm][e.syscall] += e.count
		if byThread[e.comm][e.tid] == nil {
			byThread[e.comm][e.tid] = map[string]int{}
		}
		byThread[e.comm][e.tid][e.syscall] += e.count
	}
	for comm, calls := range byComm {
		total := 0
		for _, n := range calls {
			total += n
		}
		fmt.Printf("KMODBOOT-SYSCALLS %s total=%d threads=%d %s\n", comm, total, len(byThread[comm]), top(calls, 20))
		if comm != "coldplug" {
			continue // the shell loops' processes: one line per command is enough
		}
		tids := make([]int, 0, len(byThread[comm]))
		for tid := range byThread[comm] {
			tids = append(tids, tid)
		}
		sort.Ints(tids)
		for _, tid := range tids {
			fmt.Printf("KMODBOOT-SYSCALLS %s tid=%d %s\n", comm, tid, top(byThread[comm][tid], 6))
		}
	}
}

// top formats the n most frequent calls as name=count, most frequent first.
func top(calls map[string]int, n int) string {
	names := make([]string, 0, len(calls))
	for c := range calls {
		names = append(names, c)
	}
	sort.Slice(names, func(i, j int) bool {
		if calls[names[i]] != calls[names[j]] {
			return calls[names[i]] > calls[names[j]]
		}
		return names[i] < names[j]
	})
	var b strings.Builder
	for i, c := range names {
		if i == n {
			break
		}
		fmt.Fprintf(&b, " %s=%d", c, calls[c])
	}
	return strings.TrimSpace(b.String())
}
