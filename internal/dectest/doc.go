// Package dectest holds what the tests of our decoders (pkg/unxz, pkg/unzstd, pkg/ungzip)
// share: the check that a decoder does no work at program start, and the thread CPU clock
// their benchmarks report beside wall time. Only tests import it.
package dectest
