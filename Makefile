# kmodboot — see README.md. The two commands that matter: `make demo` and `make test`.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go

# Kernel series of the image (scripts/fetch-kernel.sh 6.1|6.12); the Debian 6.1 kernel is the default.
SERIES ?= 6.1
# Or any unpacked kernel: KERNEL_DIR holds lib/modules/RELEASE (RELEASE may be left out when it
# holds one release).
KERNEL_DIR ?=
RELEASE ?=
# Module selection: default (nic,storage minus initramfs.DefaultDrop, plus root filesystems),
# none, or a comma-separated class list given whole (e.g. nic,storage,fs).
CLASSES ?= default
# Initramfs compression: zstd, xz or none.
COMPRESS ?= zstd
IMAGE ?= build/initramfs-$(SERIES).cpio.zst

# VM tests: how many QEMU boots run at once (each is one TCG thread) and the bound on all of them.
VMTEST_PARALLEL ?= 2
TEST_TIMEOUT ?= 85m
FUZZTIME ?= 10s

# Packages whose tests boot QEMU; they run one package at a time so boots do not starve each other.
VM_PKGS = $(shell $(GO) list -f '{{.ImportPath}} {{.Imports}} {{.TestImports}} {{.XTestImports}}' ./... | \
	awk '/hugelgupf\/vmtest|kmodboot\/vmtest[] ]/ {print $$1}')
OTHER_PKGS = $(filter-out $(VM_PKGS),$(shell $(GO) list ./...))

.PHONY: all deps kernel initramfs demo test vet check-generated race full unit vmtest bench fuzz clean

all: initramfs

deps:
	scripts/ci-deps.sh

kernel:
	scripts/fetch-kernel.sh $(SERIES)

initramfs:
	kdir="$(KERNEL_DIR)"; [ -n "$$kdir" ] || kdir=$$(scripts/fetch-kernel.sh $(SERIES) | tail -n 1); \
	$(GO) run ./cmds/mkinitramfs -kernel "$$kdir" $(if $(RELEASE),-r $(RELEASE)) -class $(CLASSES) \
		-compress $(COMPRESS) -o $(IMAGE)

demo: deps initramfs
	IMAGE=$(IMAGE) scripts/demo.sh $(SERIES)

# make test: everything CI checks, in order of increasing cost.
test: deps vet check-generated race full

vet:
	$(GO) vet ./...

# spec/meta.pb.go must be what `go generate ./spec` produces; the tree is left as it was.
check-generated:
	mkdir -p build
	cp spec/meta.pb.go build/meta.pb.go.checked-in
	$(GO) generate ./spec
	@if ! cmp -s spec/meta.pb.go build/meta.pb.go.checked-in; then \
		diff -u build/meta.pb.go.checked-in spec/meta.pb.go | head -40 || true; \
		cp build/meta.pb.go.checked-in spec/meta.pb.go; \
		echo "check-generated: spec/meta.pb.go is stale: run 'go generate ./spec' and commit it" >&2; \
		exit 1; \
	fi
	@echo "check-generated: spec/meta.pb.go is up to date"

# Unit tests under the race detector; -short skips QEMU boots and the long conformance runs.
race:
	$(GO) test -short -race -count=1 ./...

# Every test without -short: conformance against libkmod on the real kernels, then the VM tests.
full: unit vmtest

unit:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(OTHER_PKGS)

vmtest:
	time $(GO) test -count=1 -p 1 -parallel $(VMTEST_PARALLEL) -timeout $(TEST_TIMEOUT) $(VM_PKGS)

bench:
	shopt -s nullglob; for s in scripts/bench-*.sh; do echo "== $$s"; "$$s"; done

# Short runs of every fuzz target (FUZZTIME each).
fuzz:
	for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

clean:
	rm -rf build
