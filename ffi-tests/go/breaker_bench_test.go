package gotests

// The binding's hot path, for `go test -bench` (not run by the suites):
//
//	cd ffi-tests/go && go test -run '^$' -bench Breaker -benchmem -count 5
//
// The same cases against sony/gobreaker v2 are in benches/bindings/go (a module of its
// own, which downloads gobreaker) and in scripts/bench-ratios.sh (instructions counted
// with callgrind beside the wall clock). These report allocations per call too: an open
// breaker's rejection makes none (its *Error is shared while the time left is the same).

import (
	"errors"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

func benchBreaker(b *testing.B, open bool) *bw.CircuitBreaker {
	cb, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cb.Close() })
	if open {
		_ = cb.Execute(func() error { return errDown })
	}
	return cb
}

func benchNoop() error { return nil }

func BenchmarkBreakerExecuteSuccess(b *testing.B) {
	cb := benchBreaker(b, false)
	b.ReportAllocs()
	for b.Loop() {
		if err := cb.Execute(benchNoop); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBreakerExecuteGenericSuccess(b *testing.B) {
	cb := benchBreaker(b, false)
	f := func() (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bw.Execute(cb, f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBreakerExecuteRejection(b *testing.B) {
	cb := benchBreaker(b, true)
	b.ReportAllocs()
	for b.Loop() {
		if err := cb.Execute(benchNoop); !errors.Is(err, bw.ErrCircuitOpen) {
			b.Fatal(err)
		}
	}
}

func BenchmarkBreakerAllowRejection(b *testing.B) {
	cb := benchBreaker(b, true)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cb.Allow(); err == nil {
			b.Fatal("admitted")
		}
	}
}

// The rejection with the time left read from the error: the *Error itself is returned
// (the one allocation reported is errors.As's own: its target escapes to the heap).
func BenchmarkBreakerExecuteRejectionRetryAfter(b *testing.B) {
	cb := benchBreaker(b, true)
	b.ReportAllocs()
	for b.Loop() {
		var e *bw.Error
		if err := cb.Execute(benchNoop); !errors.As(err, &e) || !e.HasRetryAfter {
			b.Fatal(err)
		}
	}
}
