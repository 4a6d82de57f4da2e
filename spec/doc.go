// Package spec holds the meta.pb on-disk format: meta.proto and the Go code protoc-gen-go
// generates from it.
//
// Regenerate with `go generate ./spec` (needs protoc from Debian's protobuf-compiler, 3.21.12 on Debian 12, and
// protoc-gen-go v1.36.12, which the line below installs);
// `make check-generated` fails when the checked-in meta.pb.go differs from a fresh generation.
package spec

//go:generate sh -c "PATH=$(go env GOPATH)/bin:$PATH && go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 && protoc --go_out=. --go_opt=paths=source_relative meta.proto"

// FormatVersion is the Index.format_version this code writes and reads.
const FormatVersion = 1
