package kmod_test

import (
	"context"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kmodboot/kmodboot/pkg/kmod"
	"github.com/kmodboot/kmodboot/pkg/kmod/kmodtest"
)

// kernelMask records the calling thread's blocked signals in every load call.
type kernelMask struct {
	*kmodtest.Kernel
	t     *testing.T
	mu    sync.Mutex
	masks map[string]uint64
}

func (k *kernelMask) record(op string) {
	m := kmod.BlockedSignals(k.t)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.masks[op] = m
}

func (k *kernelMask) FinitModule(fd int, params string, flags int) error {
	k.record("finit_module")
	return k.Kernel.FinitModule(fd, params, flags)
}

func (k *kernelMask) InitModule(image []byte, params string) error {
	k.record("init_module")
	return k.Kernel.InitModule(image, params)
}

// TestLoadCallsBlockSignals: while a load call runs (and with it the module's init in the
// kernel), its thread blocks the signals the Go runtime sends (SIGURG to preempt, SIGPROF while
// profiling) and the ones a user does (SIGINT, SIGTERM), so that none is pending in the kernel.
func TestLoadCallsBlockSignals(t *testing.T) {
	e := setup(t, tree, "", "", kmod.Options{})
	k := &kernelMask{Kernel: e.kernel, t: t, masks: map[string]uint64{}}
	l, err := kmod.New(kmod.Options{Index: e.index, Root: e.root, Release: release, Kernel: k})
	if err != nil {
		t.Fatal(err)
	}
	// xzmod is compressed and this kernel does not decompress: init_module after userspace
	// decompression; its dependencies go through finit_module.
	rs, err := l.Load(context.Background(), "xzmod", "")
	if err != nil {
		t.Fatalf("Load(xzmod) = %+v, %v", rs, err)
	}
	for _, op := range []string{"finit_module", "init_module"} {
		m, ok := k.masks[op]
		if !ok {
			t.Errorf("no %s call was made", op)
			continue
		}
		for _, sig := range []unix.Signal{unix.SIGURG, unix.SIGPROF, unix.SIGINT, unix.SIGTERM, unix.SIGCHLD} {
			if m&(1<<(uint(sig)-1)) == 0 {
				t.Errorf("%s ran with %v unblocked (SigBlk %016x)", op, sig, m)
			}
		}
	}
}
