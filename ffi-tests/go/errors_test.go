package gotests

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

func rejection(r bw.Reason) *bw.Error {
	return &bw.Error{Status: bw.StatusRejected, Policy: bw.PolicyCircuitBreaker, Reason: r, Message: "m"}
}

func TestEachRejectionMatchesItsSentinel(t *testing.T) {
	cases := map[bw.Reason]error{
		bw.ReasonOpen:             bw.ErrCircuitOpen,
		bw.ReasonTrialFull:        bw.ErrTrialFull,
		bw.ReasonForcedOpen:       bw.ErrForcedOpen,
		bw.ReasonBulkheadFull:     bw.ErrBulkheadFull,
		bw.ReasonQueueFull:        bw.ErrQueueFull,
		bw.ReasonShutdown:         bw.ErrShutdown,
		bw.ReasonRateLimited:      bw.ErrRateLimited,
		bw.ReasonBudgetExhausted:  bw.ErrBudgetExhausted,
		bw.ReasonDeadlineExceeded: bw.ErrDeadlineExceeded,
		bw.ReasonCancelled:        bw.ErrCancelled,
	}
	all := []error{bw.ErrCircuitOpen, bw.ErrTrialFull, bw.ErrForcedOpen, bw.ErrBulkheadFull,
		bw.ErrQueueFull, bw.ErrShutdown, bw.ErrRateLimited, bw.ErrBudgetExhausted,
		bw.ErrDeadlineExceeded, bw.ErrCancelled}
	for reason, sentinel := range cases {
		// Wrapped, as callers do.
		err := fmt.Errorf("calling authors: %w", rejection(reason))
		if !errors.Is(err, sentinel) {
			t.Errorf("%v does not match its sentinel", reason)
		}
		if !errors.Is(err, bw.ErrRejected) {
			t.Errorf("%v is not ErrRejected", reason)
		}
		for _, other := range all {
			if other == sentinel || other == bw.ErrCircuitOpen && (reason == bw.ReasonTrialFull || reason == bw.ReasonForcedOpen) {
				continue
			}
			if errors.Is(err, other) {
				t.Errorf("%v also matches %v", reason, other)
			}
		}
	}
}

func TestBreakerRejectionsAreAllCircuitOpen(t *testing.T) {
	for _, r := range []bw.Reason{bw.ReasonOpen, bw.ReasonTrialFull, bw.ReasonForcedOpen} {
		if !errors.Is(rejection(r), bw.ErrCircuitOpen) {
			t.Errorf("%v is not ErrCircuitOpen", r)
		}
	}
	if errors.Is(rejection(bw.ReasonBulkheadFull), bw.ErrCircuitOpen) {
		t.Error("bulkhead full is not a breaker rejection")
	}
}

func TestStatusesMatchTheirSentinels(t *testing.T) {
	cases := map[bw.Status]error{
		bw.StatusRejected:        bw.ErrRejected,
		bw.StatusTimedOut:        bw.ErrTimedOut,
		bw.StatusFailed:          bw.ErrFailed,
		bw.StatusInvalidArgument: bw.ErrInvalidArgument,
		bw.StatusInvalidConfig:   bw.ErrInvalidConfig,
		bw.StatusPanic:           bw.ErrPanic,
		bw.StatusStale:           bw.ErrStale,
		bw.StatusCancelled:       bw.ErrCancelled,
		bw.StatusShutdown:        bw.ErrShutdown,
	}
	for status, sentinel := range cases {
		err := &bw.Error{Status: status, Message: "x"}
		if !errors.Is(err, sentinel) {
			t.Errorf("%v does not match %v", status, sentinel)
		}
		if status != bw.StatusRejected && errors.Is(err, bw.ErrRejected) {
			t.Errorf("%v matches ErrRejected without a reason", status)
		}
	}
	if errors.Is(&bw.Error{Status: bw.StatusFailed}, nil) {
		t.Error("matches nil")
	}
}

func TestTimeoutsAndCancellationMatchTheContextErrors(t *testing.T) {
	timedOut := &bw.Error{Status: bw.StatusTimedOut, Policy: bw.PolicyTimeLimiter}
	if !errors.Is(timedOut, context.DeadlineExceeded) || !timedOut.Timeout() {
		t.Error("a time-out is context.DeadlineExceeded")
	}
	late := rejection(bw.ReasonDeadlineExceeded)
	if !errors.Is(late, bw.ErrTimedOut) || !errors.Is(late, context.DeadlineExceeded) || !late.Timeout() {
		t.Error("a deadline exceeded before the start is a time-out")
	}
	cancelled := &bw.Error{Status: bw.StatusCancelled, Reason: bw.ReasonCancelled}
	if !errors.Is(cancelled, context.Canceled) || errors.Is(cancelled, context.DeadlineExceeded) {
		t.Error("a cancellation is context.Canceled only")
	}
	if rejection(bw.ReasonOpen).Timeout() {
		t.Error("open is not a time-out")
	}
}

func TestErrorCarriesRetryAfterAndMessage(t *testing.T) {
	e := &bw.Error{Status: bw.StatusRejected, Policy: bw.PolicyRateLimiter, Reason: bw.ReasonRateLimited,
		HasRetryAfter: true, RetryAfter: 250 * time.Millisecond,
		Message: "rate limiter rejected the call: rate limited"}
	var err error = e
	var got *bw.Error
	if !errors.As(err, &got) || got.RetryAfter != 250*time.Millisecond {
		t.Fatal("errors.As")
	}
	if err.Error() != "breakwater: rate limiter rejected the call: rate limited" {
		t.Error(err.Error())
	}
}
