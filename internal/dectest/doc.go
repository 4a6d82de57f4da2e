// Package dectest holds what the tests of our decoders (pkg/unxz, pkg/unzstd, pkg/ungzip)
// share: the check that a decoder does no work at program start, the thread CPU clock their
// benchmarks report beside wall time, their committed fixtures, and the cached Debian kernels
// whose modules they decode. Only tests import it.
package dectest
