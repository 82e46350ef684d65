package gotests

import (
	"errors"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

// callScript runs, on a breaker tripping on one failure: a success taking 3ms, an
// ignored call taking 7ms, a success reported with a duration of 42ms, a failure
// taking 5ms (it trips) and a refused call.
func callScript(t *testing.T, b *bw.CircuitBreaker, clock *bw.ManualClock) {
	t.Helper()
	if err := b.Execute(func() error { clock.Advance(3 * time.Millisecond); return nil }); err != nil {
		t.Fatal(err)
	}
	p, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(7 * time.Millisecond)
	if err := p.Ignore(); err != nil {
		t.Fatal(err)
	}
	p, err = b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Report(bw.OutcomeSuccess, 42*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := b.Execute(func() error { clock.Advance(5 * time.Millisecond); return errDown }); err != errDown {
		t.Fatalf("err = %v", err)
	}
	if err := b.Execute(func() error { t.Error("ran while open"); return nil }); !errors.Is(err, bw.ErrCircuitOpen) {
		t.Fatalf("err = %v", err)
	}
}

// checkScript checks the events of callScript, in order.
func checkScript(t *testing.T, events []bw.CallEvent) {
	t.Helper()
	type want struct {
		kind bw.CallKind
		d    time.Duration
	}
	wants := []want{
		{bw.CallSuccess, 3 * time.Millisecond},
		{bw.CallIgnored, 7 * time.Millisecond},
		{bw.CallSuccess, 42 * time.Millisecond},
		{bw.CallFailure, 5 * time.Millisecond},
	}
	if len(events) != len(wants)+1 {
		t.Fatalf("events %+v", events)
	}
	for i, w := range wants {
		e := events[i]
		if e.Kind != w.kind || !e.HasDuration || e.Duration != w.d || e.Reason != bw.ReasonNone || e.Slow {
			t.Errorf("event %d = %+v, want %v taking %v", i, e, w.kind, w.d)
		}
		if e.Generation != events[0].Generation {
			t.Errorf("event %d generation %d, want %d", i, e.Generation, events[0].Generation)
		}
	}
	r := events[len(wants)]
	if r.Kind != bw.CallRejected || r.Reason != bw.ReasonOpen || r.HasDuration || r.Duration != 0 ||
		r.Generation <= events[0].Generation {
		t.Errorf("rejection = %+v (first generation %d)", r, events[0].Generation)
	}
	if r.Kind.String() != "rejected" || events[0].Kind.String() != "success" || r.Reason.String() != bw.ReasonOpen.String() {
		t.Errorf("names %q %q %q", r.Kind, events[0].Kind, r.Reason)
	}
}

// WithOnCall delivers every call event, in order, to a Go function on a goroutine of
// the binding, with the durations measured on the breaker's clock.
func TestOnCallDeliversCallEventsInOrder(t *testing.T) {
	clock := bw.NewManualClock()
	ch := make(chan bw.CallEvent, 64)
	b, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: time.Second},
		bw.WithClock(clock), bw.WithOnCall(func(e bw.CallEvent) { ch <- e }))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	callScript(t, b, clock)
	var events []bw.CallEvent
	for len(events) < 5 {
		select {
		case e := <-ch:
			events = append(events, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d events delivered: %+v", len(events), events)
		}
	}
	checkScript(t, events)
}

// WithCallEvents queues the events for PollCallEvents; an outcome reported after a
// state change is a stale event.
func TestPollCallEvents(t *testing.T) {
	clock := bw.NewManualClock()
	b, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: time.Second},
		bw.WithClock(clock), bw.WithCallEvents())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if events := b.PollCallEvents(); len(events) != 0 {
		t.Fatalf("before any call: %+v", events)
	}
	callScript(t, b, clock)
	checkScript(t, b.PollCallEvents())
	if events := b.PollCallEvents(); len(events) != 0 {
		t.Fatalf("polled twice: %+v", events)
	}
	b.Reset()
	p, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := p.Success(); !errors.Is(err, bw.ErrStale) {
		t.Fatalf("err = %v", err)
	}
	events := b.PollCallEvents()
	if len(events) != 1 || events[0].Kind != bw.CallStale || events[0].Generation != p.Generation() {
		t.Fatalf("stale: %+v (permit generation %d)", events, p.Generation())
	}
}

// Without the options a breaker has no call-event queue: polling it is a programmer
// error naming the problem, and a state-change watcher gets transitions only.
func TestNoCallEventsWithoutTheOption(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1}, clock)
	fail(t, b, 1)
	func() {
		defer func() {
			err, _ := recover().(error)
			if !errors.Is(err, bw.ErrInvalidArgument) {
				t.Fatalf("PollCallEvents on a plain breaker: recovered %v", err)
			}
		}()
		b.PollCallEvents()
		t.Fatal("PollCallEvents did not panic")
	}()
	ch := make(chan bw.Transition, 4)
	c, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1}, bw.WithClock(clock),
		bw.WithOnStateChange(func(_ string, tr bw.Transition) { ch <- tr }), bw.WithOnCall(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fail(t, c, 1)
	if tr := nextTransition(t, ch); tr.To != bw.StateOpen {
		t.Fatalf("transition %+v", tr)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("WithOnCall(nil) turned call events on")
			}
		}()
		c.PollCallEvents()
	}()
	reg := bw.NewRegistry()
	defer reg.Close()
	if _, err := reg.CircuitBreaker("calls", bw.BreakerSettings{}, bw.WithCallEvents()); !errors.Is(err, bw.ErrInvalidArgument) {
		t.Fatalf("registry breaker with call events: %v", err)
	}
}
