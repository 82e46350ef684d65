// Package gotests holds the Go tests of the breakwater binding, run as a user of its
// public API (`go test` and `go test -race`; see scripts/suites/go.sh).
package gotests
