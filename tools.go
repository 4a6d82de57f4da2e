//go:build tools

// Package tools pins the modules whose commands and packages the build uses but no Go file
// imports directly, so go.sum stays complete for `make initramfs` and `go generate`.
package tools

import (
	_ "github.com/hugelgupf/vmtest/qemu"
	_ "github.com/u-root/mkuimage/uimage"
	_ "github.com/u-root/u-root/cmds/core/init"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
