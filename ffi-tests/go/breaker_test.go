package gotests

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

var errDown = errors.New("down")

func newBreaker(t *testing.T, config bw.BreakerSettings, clock bw.Clock) *bw.CircuitBreaker {
	t.Helper()
	b, err := bw.NewCircuitBreaker(config, bw.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func fail(t *testing.T, b *bw.CircuitBreaker, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := b.Execute(func() error { return errDown }); err != errDown {
			t.Fatalf("Execute = %v, want errDown", err)
		}
	}
}

func wantState(t *testing.T, b *bw.CircuitBreaker, want bw.BreakerState) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("state = %v, want %v", got, want)
	}
}

func TestBreakerConsecutiveFailuresOpenAndRejectWithRetryAfter(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 3, OpenDuration: 30 * time.Second}, clock)
	fail(t, b, 2)
	if err := b.Execute(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	fail(t, b, 2)
	wantState(t, b, bw.StateClosed)
	fail(t, b, 1)
	wantState(t, b, bw.StateOpen)
	ran := false
	err := b.Execute(func() error { ran = true; return nil })
	var e *bw.Error
	if ran || !errors.As(err, &e) || !errors.Is(err, bw.ErrCircuitOpen) || !errors.Is(err, bw.ErrRejected) {
		t.Fatalf("Execute on open = %v (ran %v)", err, ran)
	}
	if !e.HasRetryAfter || e.RetryAfter != 30*time.Second || e.Reason != bw.ReasonOpen {
		t.Fatalf("rejection = %+v", e)
	}
	m := b.Metrics()
	if m.TotalFailures != 5 || m.TotalSuccesses != 1 || m.RejectedOpen != 1 || m.Opened != 1 || m.FailureRate != -1 {
		t.Fatalf("metrics = %+v", m)
	}
}

func TestBreakerFailureRateWindowAndMinimum(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{FailureRate: 0.5, WindowCalls: 4, MinimumCalls: 4}, clock)
	fail(t, b, 3)
	wantState(t, b, bw.StateClosed)
	_ = b.Execute(func() error { return nil })
	wantState(t, b, bw.StateOpen)
}

func TestBreakerFailuresInWindow(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{FailuresInWindow: 2, FailureWindow: 10 * time.Second}, clock)
	fail(t, b, 1)
	clock.Advance(10 * time.Second)
	fail(t, b, 1)
	wantState(t, b, bw.StateClosed)
	fail(t, b, 1)
	wantState(t, b, bw.StateOpen)
}

func TestBreakerSlowCallsWithReportedDurations(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{SlowCallRate: 0.5, SlowDuration: 2 * time.Second, WindowCalls: 2, MinimumCalls: 2}, clock)
	for _, d := range []time.Duration{3 * time.Second, time.Millisecond} {
		p, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Report(bw.OutcomeSuccess, d); err != nil {
			t.Fatal(err)
		}
	}
	wantState(t, b, bw.StateOpen)
	if m := b.Metrics(); m.TotalSlow != 1 {
		t.Fatalf("slow = %d", m.TotalSlow)
	}
}

func TestBreakerOutageExerciseWithPolledEvents(t *testing.T) {
	clock := bw.NewManualClock()
	b, err := bw.NewCircuitBreakerJSON(`{"name": "authors", "open_duration_ms": 10000,
		"consecutive_failures": 3}`, bw.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fail(t, b, 3)
	clock.Advance(10 * time.Second)
	wantState(t, b, bw.StateHalfOpen)
	p, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Allow(); !errors.Is(err, bw.ErrTrialFull) || !errors.Is(err, bw.ErrCircuitOpen) {
		t.Fatalf("second trial call = %v", err)
	}
	if err := p.Failure(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second)
	if err := b.Execute(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := []bw.Transition{
		{From: bw.StateClosed, To: bw.StateOpen, Reason: "threshold reached", Generation: 2, At: 0},
		{From: bw.StateOpen, To: bw.StateHalfOpen, Reason: "open duration elapsed", Generation: 3, At: 10 * time.Second},
		{From: bw.StateHalfOpen, To: bw.StateOpen, Reason: "trial failed", Generation: 4, At: 10 * time.Second},
		{From: bw.StateOpen, To: bw.StateHalfOpen, Reason: "open duration elapsed", Generation: 5, At: 20 * time.Second},
		{From: bw.StateHalfOpen, To: bw.StateClosed, Reason: "trial succeeded", Generation: 6, At: 20 * time.Second},
	}
	got := b.PollEvents()
	if len(got) != len(want) {
		t.Fatalf("events = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(b.PollEvents()) != 0 {
		t.Error("events polled twice")
	}
	if b.Name() != "authors" {
		t.Errorf("name = %q", b.Name())
	}
}

func TestBreakerPollEventsDrainsMoreThanOneBuffer(t *testing.T) {
	b := newBreaker(t, bw.BreakerSettings{}, nil)
	for i := 0; i < 50; i++ {
		b.ForceOpen()
		b.Reset()
	}
	if got := len(b.PollEvents()); got != 100 {
		t.Fatalf("events = %d", got)
	}
}

func TestBreakerStaleIgnoreAndManualModes(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: time.Second}, clock)
	p, _ := b.Allow()
	b.Reset()
	if err := p.Failure(); !errors.Is(err, bw.ErrStale) {
		t.Fatalf("stale = %v", err)
	}
	fail(t, b, 1)
	clock.Advance(time.Second)
	p, _ = b.Allow()
	if err := p.Ignore(); err != nil { // gives the admission back
		t.Fatal(err)
	}
	if _, err := b.Allow(); err != nil {
		t.Fatal(err)
	}
	b.ForceOpen()
	wantState(t, b, bw.StateForcedOpen)
	if err := b.Execute(func() error { return nil }); !errors.Is(err, bw.ErrForcedOpen) {
		t.Fatalf("forced open = %v", err)
	}
	b.Disable()
	fail(t, b, 5)
	wantState(t, b, bw.StateDisabled)
	b.Reset()
	wantState(t, b, bw.StateClosed)
	if m := b.Metrics(); m.StaleDropped != 1 || m.RejectedForcedOpen != 1 {
		t.Fatalf("metrics = %+v", m)
	}
}

func TestBreakerOpenDurationGrows(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: time.Second,
		OpenDurationMultiplier: 2, OpenDurationCap: 3 * time.Second}, clock)
	fail(t, b, 1)
	wait := time.Second
	for _, want := range []time.Duration{2 * time.Second, 3 * time.Second, 3 * time.Second} {
		clock.Advance(wait)
		fail(t, b, 1)
		_, err := b.Allow()
		var e *bw.Error
		if !errors.As(err, &e) || e.RetryAfter != want {
			t.Fatalf("retry after = %v, want %v", err, want)
		}
		wait = want
	}
}

func TestBreakerPanicsAreFailuresAndKeepUnwinding(t *testing.T) {
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1}, nil)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		_ = b.Execute(func() error { panic("boom") })
	}()
	wantState(t, b, bw.StateOpen)
}

func TestBreakerIsSuccessfulClassifies(t *testing.T) {
	b, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1},
		bw.WithIsSuccessful(func(err error) bool { return err == nil || err == errDown }))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fail(t, b, 3)
	wantState(t, b, bw.StateClosed)
}

func TestBreakerExecuteContext(t *testing.T) {
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := b.ExecuteContext(ctx, func(context.Context) error { ran = true; return nil }); err != context.Canceled || ran {
		t.Fatalf("done context = %v (ran %v)", err, ran)
	}
	// cancelled while running: ignored, not a failure of the dependency
	ctx, cancel = context.WithCancel(context.Background())
	err := b.ExecuteContext(ctx, func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	if err != context.Canceled {
		t.Fatal(err)
	}
	wantState(t, b, bw.StateClosed)
	// a deadline that expires while running is a failure
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	err = b.ExecuteContext(ctx, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if err != context.DeadlineExceeded {
		t.Fatal(err)
	}
	wantState(t, b, bw.StateOpen)
	m := b.Metrics()
	if m.TotalIgnored != 1 || m.TotalFailures != 1 || m.TotalRequests != 2 {
		t.Fatalf("metrics = %+v", m)
	}
}

func TestBreakerGoroutinesKeepExactCounts(t *testing.T) {
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1 << 30}, nil)
	const goroutines, calls = 8, 20000
	var ok, bad, ignored atomic.Uint64
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				p, err := b.Allow()
				if err != nil {
					t.Error(err)
					return
				}
				switch (i*7 + g) % 3 {
				case 0:
					_ = p.Success()
					ok.Add(1)
				case 1:
					_ = p.Failure()
					bad.Add(1)
				default:
					_ = p.Ignore()
					ignored.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	m := b.Metrics()
	if m.TotalRequests != goroutines*calls || m.TotalSuccesses != ok.Load() ||
		m.TotalFailures != bad.Load() || m.TotalIgnored != ignored.Load() {
		t.Fatalf("metrics = %+v (ok %d bad %d ignored %d)", m, ok.Load(), bad.Load(), ignored.Load())
	}
}

func TestBreakerHalfOpenBoundaryNeverExceedsTheTrial(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1, HalfOpenMaxCalls: 3, OpenDuration: time.Second}, clock)
	fail(t, b, 1)
	for round := 0; round < 20; round++ {
		clock.Advance(time.Second)
		var admitted atomic.Int32
		var permits sync.Map
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				if p, err := b.Allow(); err == nil {
					admitted.Add(1)
					permits.Store(g, p)
				} else if !errors.Is(err, bw.ErrTrialFull) {
					t.Error(err)
				}
			}(g)
		}
		wg.Wait()
		if admitted.Load() != 3 {
			t.Fatalf("round %d: admitted %d", round, admitted.Load())
		}
		permits.Range(func(_, p any) bool { _ = p.(*bw.Permit).Failure(); return true })
		wantState(t, b, bw.StateOpen)
	}
}

func TestBreakerRegistrySharesByName(t *testing.T) {
	reg := bw.NewRegistry()
	clock := bw.NewManualClock()
	a, err := reg.CircuitBreaker("db", bw.BreakerSettings{ConsecutiveFailures: 1}, bw.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	b, err := reg.CircuitBreaker("db", bw.BreakerSettings{})
	if err != nil {
		t.Fatal(err)
	}
	fail(t, a, 1)
	wantState(t, b, bw.StateOpen)
	if b.Name() != "db" {
		t.Fatal(b.Name())
	}
	_, err = reg.CircuitBreaker("db", bw.BreakerSettings{ConsecutiveFailures: 2})
	if !errors.Is(err, bw.ErrInvalidConfig) || !strings.Contains(err.Error(), "already registered with a different configuration") {
		t.Fatalf("different config = %v", err)
	}
	if _, err := reg.CircuitBreaker("", bw.BreakerSettings{}); !errors.Is(err, bw.ErrInvalidArgument) {
		t.Fatalf("empty name = %v", err)
	}
	_ = reg.Close()
	_ = reg.Close()
	wantState(t, a, bw.StateOpen)
	_ = a.Close()
	_ = b.Close()
}

func TestBreakerBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		config bw.BreakerSettings
		msg    string
	}{
		{bw.BreakerSettings{OpenDuration: -time.Second}, "open_duration_ms must be a non-negative number of milliseconds, got -1000"},
		{bw.BreakerSettings{HalfOpenMaxCalls: -1}, "half_open_max_calls"},
		{bw.BreakerSettings{FailureRate: 2, WindowCalls: 10, MinimumCalls: 1}, "failure_rate.threshold must be in (0, 1], got 2"},
		{bw.BreakerSettings{ConsecutiveFailures: 3, FailureRate: 0.5}, "invalid circuit breaker configuration: consecutive_failures and failure_rate are both set: a breaker has one trip policy (to count slow calls with a failure rate, set failure_rate.slow)"},
		{bw.BreakerSettings{WindowCalls: 10}, "failure_rate.threshold is required"},
		{bw.BreakerSettings{Name: "x", HalfOpenMaxCalls: 2, SuccessThreshold: 3}, "success_threshold"},
		{bw.BreakerSettings{Interval: -time.Second}, "interval_ms"},
	} {
		_, err := bw.NewCircuitBreaker(tc.config)
		if !errors.Is(err, bw.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: err = %v, want ErrInvalidConfig mentioning %q", tc.config, err, tc.msg)
		}
	}
	for _, tc := range []struct{ text, msg string }{
		{`{"open_duratoin_ms": 1}`, `unknown key "open_duratoin_ms" (did you mean "open_duration_ms"?)`},
		{`{"consecutive_failures": 0}`, "consecutive_failures must be at least 1"},
	} {
		_, err := bw.NewCircuitBreakerJSON(tc.text)
		if !errors.Is(err, bw.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig mentioning %q", tc.text, err, tc.msg)
		}
	}
}

func TestBreakerUseAfterClosePanics(t *testing.T) {
	b, _ := bw.NewCircuitBreaker(bw.BreakerSettings{})
	_ = b.Close()
	_ = b.Close()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "CircuitBreaker used after Close") {
			t.Fatalf("recovered %v", r)
		}
	}()
	_, _ = b.Allow()
}
