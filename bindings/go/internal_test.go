package breakwater

// Tests of the raw C wrappers, which the public API never calls with bad input.

import (
	"errors"
	"testing"
)

func TestRawCallsRefuseNullHandles(t *testing.T) {
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"bw_clock_now_ns", func() error { _, err := nowNanos(nil); return err }, "clock must not be NULL"},
		{"bw_clock_advance_ns", func() error { return advanceNanos(nil, 1) }, "clock must not be NULL"},
		{"bw_cancel_cancel", func() error { return cancelRaw(nil) }, "cancel must not be NULL"},
		{"bw_cancel_is_cancelled", func() error { _, err := cancelledRaw(nil); return err }, "cancel must not be NULL"},
	}
	for _, c := range cases {
		err := c.call()
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: got %v, want an *Error", c.name, err)
		}
		if e.Status != StatusInvalidArgument || e.Message != c.want || e.Policy != PolicyNone || e.Reason != ReasonNone || e.HasRetryAfter {
			t.Errorf("%s: got %+v", c.name, *e)
		}
		if !errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrRejected) {
			t.Errorf("%s: errors.Is mismatch for %v", c.name, err)
		}
		if got := err.Error(); got != "breakwater: "+c.want {
			t.Errorf("%s: Error() = %q", c.name, got)
		}
	}
}

func TestAMonotonicClockCannotBeAdvanced(t *testing.T) {
	c := NewMonotonicClock()
	defer c.Close()
	p, release := c.cClock()
	err := advanceNanos(p, 1)
	release()
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("got %v", err)
	}
	want := "clock is not a manual clock (only a clock from bw_clock_manual_new can be advanced)"
	if err.(*Error).Message != want {
		t.Errorf("message %q", err.(*Error).Message)
	}
}

func TestCloseWaitsForCallsInProgress(t *testing.T) {
	c := NewManualClock()
	p, release := c.cClock()
	done := make(chan struct{})
	go func() {
		_ = c.Close()
		close(done)
	}()
	// The handle is still usable while the call "is in progress".
	if err := advanceNanos(p, 5); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatal("Close returned while a call held the handle")
	default:
	}
	release()
	<-done
	if !c.h.closed() {
		t.Fatal("not closed")
	}
}

func TestCancelHandleForBlockingCalls(t *testing.T) {
	tok := NewCancelToken()
	p, release := tok.cCancel()
	if err := cancelRaw(p); err != nil {
		t.Fatal(err)
	}
	release()
	if !tok.Cancelled() {
		t.Fatal("not cancelled")
	}
	_ = tok.Close()
	if !tok.h.closed() {
		t.Fatal("not closed")
	}
}

func TestNanosToDurationSaturates(t *testing.T) {
	if got := nanosToDuration(1 << 63); got != 1<<63-1 {
		t.Fatalf("got %d", got)
	}
	if got := nanosToDuration(42); got != 42 {
		t.Fatalf("got %d", got)
	}
}
