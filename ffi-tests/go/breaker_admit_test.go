package gotests

import (
	"errors"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

// The refusals of Allow/Execute (answered by bw_breaker_admit): reason, sentinels,
// message, retry-after, counts; and no allocation for the refusals without a hint.
func TestBreakerRefusalsCarryReasonMessageAndRetryAfter(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: 30 * time.Second}, clock)
	fail(t, b, 1)
	clock.Advance(10 * time.Second)
	_, err := b.Allow()
	var e *bw.Error
	if !errors.As(err, &e) || !errors.Is(err, bw.ErrCircuitOpen) || errors.Is(err, bw.ErrTrialFull) {
		t.Fatalf("Allow on open = %v", err)
	}
	if e.Status != bw.StatusRejected || e.Policy != bw.PolicyCircuitBreaker || e.Reason != bw.ReasonOpen ||
		!e.HasRetryAfter || e.RetryAfter != 20*time.Second ||
		err.Error() != "breakwater: circuit breaker rejected the call: open" {
		t.Fatalf("open refusal = %+v (%q)", e, err.Error())
	}

	clock.Advance(20 * time.Second)
	trial, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	err = b.Execute(func() error { t.Fatal("ran"); return nil })
	if !errors.As(err, &e) || !errors.Is(err, bw.ErrTrialFull) || !errors.Is(err, bw.ErrCircuitOpen) ||
		e.Reason != bw.ReasonTrialFull || e.HasRetryAfter ||
		err.Error() != "breakwater: circuit breaker rejected the call: half-open trial full" {
		t.Fatalf("trial-full refusal = %+v", err)
	}
	bw.FlushLogs() // the transitions' log records are delivered (allocating) on another goroutine
	if n := testing.AllocsPerRun(100, func() { _, _ = b.Allow() }); n != 0 {
		t.Fatalf("a trial-full refusal allocates %v times", n)
	}
	if err := trial.Success(); err != nil {
		t.Fatal(err)
	}

	b.ForceOpen()
	_, err = b.Allow()
	if !errors.As(err, &e) || !errors.Is(err, bw.ErrForcedOpen) || e.Reason != bw.ReasonForcedOpen ||
		e.HasRetryAfter || err.Error() != "breakwater: circuit breaker rejected the call: forced open" {
		t.Fatalf("forced-open refusal = %+v", err)
	}
	bw.FlushLogs() // the transitions' log records are delivered (allocating) on another goroutine
	if n := testing.AllocsPerRun(100, func() { _ = b.Execute(func() error { return nil }) }); n != 0 {
		t.Fatalf("a forced-open refusal allocates %v times", n)
	}
	m := b.Metrics()
	if m.RejectedOpen != 1 || m.RejectedTrialFull != 102 || m.RejectedForcedOpen != 102 || m.TotalSuccesses != 1 {
		t.Fatalf("metrics = %+v", m)
	}
}

// An open breaker's refusals allocate nothing while the time left stays the same (the
// *Error is shared), and the time left is never stale: a refusal after the clock moved
// carries the new one, and an error already returned keeps its own.
func TestBreakerOpenRefusalSharesItsErrorWhileTheTimeLeftIsTheSame(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: 30 * time.Second}, clock)
	fail(t, b, 1)
	first := b.Execute(func() error { t.Fatal("ran"); return nil })
	bw.FlushLogs() // the transitions' log records are delivered (allocating) on another goroutine
	if n := testing.AllocsPerRun(100, func() { _ = b.Execute(func() error { return nil }) }); n != 0 {
		t.Fatalf("an open refusal allocates %v times", n)
	}
	bw.FlushLogs() // the transitions' log records are delivered (allocating) on another goroutine
	if n := testing.AllocsPerRun(100, func() { _, _ = b.Allow() }); n != 0 {
		t.Fatalf("an open refusal (Allow) allocates %v times", n)
	}
	clock.Advance(5 * time.Second)
	_, second := b.Allow()
	var e1, e2 *bw.Error
	if !errors.As(first, &e1) || !errors.As(second, &e2) {
		t.Fatalf("refusals %v, %v", first, second)
	}
	if e1.RetryAfter != 30*time.Second || e2.RetryAfter != 25*time.Second || !e2.HasRetryAfter ||
		!errors.Is(second, bw.ErrCircuitOpen) || e2.Reason != bw.ReasonOpen {
		t.Fatalf("retry after %v then %v (%+v)", e1.RetryAfter, e2.RetryAfter, e2)
	}
	clock.Advance(time.Second)
	_, third := b.Allow()
	var e3 *bw.Error
	if !errors.As(third, &e3) || e3.RetryAfter != 24*time.Second || e2.RetryAfter != 25*time.Second {
		t.Fatalf("retry after %v, earlier error now %v", e3.RetryAfter, e2.RetryAfter)
	}
	// 3 refusals, and AllocsPerRun's 2 x 101 (a warm-up run, then 100).
	if m := b.Metrics(); m.RejectedOpen != 205 {
		t.Fatalf("rejected open = %d, want 205 (each refusal counted by the library)", m.RejectedOpen)
	}
}
