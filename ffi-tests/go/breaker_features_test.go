package gotests

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

// Execute[T] returns the function's value; the classifier sees value and error and
// decides among success, failure and ignored.
func TestExecuteGenericWithClassifier(t *testing.T) {
	b, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 2},
		bw.WithClassifier(func(v any, err error) bw.Outcome {
			switch {
			case errors.Is(err, errDown):
				return bw.OutcomeIgnored
			case err != nil:
				return bw.OutcomeFailure
			case v.(int) < 0: // a value that means the dependency failed
				return bw.OutcomeFailure
			}
			return bw.OutcomeSuccess
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := bw.Execute(b, func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Fatalf("Execute = %v, %v", v, err)
	}
	if _, err := bw.Execute(b, func() (int, error) { return 0, errDown }); err != errDown {
		t.Fatalf("err = %v", err)
	}
	if v, _ := bw.Execute(b, func() (int, error) { return -1, nil }); v != -1 {
		t.Fatalf("v = %v", v)
	}
	m := b.Metrics()
	if m.TotalSuccesses != 1 || m.TotalFailures != 1 || m.TotalIgnored != 1 {
		t.Fatalf("metrics %+v", m)
	}
	wantState(t, b, bw.StateClosed)
	_, _ = bw.Execute(b, func() (int, error) { return 0, errors.New("boom") })
	wantState(t, b, bw.StateOpen)
	ran := false
	v, err := bw.Execute(b, func() (string, error) { ran = true; return "x", nil })
	if ran || v != "" || !errors.Is(err, bw.ErrCircuitOpen) {
		t.Fatalf("open: ran=%v v=%q err=%v", ran, v, err)
	}
	// The error-only Execute uses the classifier too (v is nil).
	c, _ := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1},
		bw.WithClassifier(func(v any, err error) bw.Outcome {
			if v != nil {
				t.Errorf("v = %v", v)
			}
			return bw.OutcomeIgnored
		}))
	defer c.Close()
	_ = c.Execute(func() error { return errDown })
	if m := c.Metrics(); m.TotalIgnored != 1 || m.State != bw.StateClosed {
		t.Fatalf("metrics %+v", m)
	}
}

func nextTransition(t *testing.T, ch <-chan bw.Transition) bw.Transition {
	t.Helper()
	select {
	case tr := <-ch:
		return tr
	case <-time.After(10 * time.Second):
		t.Fatal("no transition delivered")
	}
	return bw.Transition{}
}

// Transitions, manual ones included, reach a Go function on a goroutine of the
// binding, in order, with the breaker's name.
func TestOnStateChangeDeliversTransitions(t *testing.T) {
	clock := bw.NewManualClock()
	ch := make(chan bw.Transition, 16)
	names := make(chan string, 16)
	b, err := bw.NewCircuitBreaker(bw.BreakerSettings{Name: "orders", ConsecutiveFailures: 1, OpenDuration: time.Second},
		bw.WithClock(clock), bw.WithOnStateChange(func(name string, tr bw.Transition) {
			names <- name
			ch <- tr
		}))
	if err != nil {
		t.Fatal(err)
	}
	fail(t, b, 1)
	tr := nextTransition(t, ch)
	if tr.From != bw.StateClosed || tr.To != bw.StateOpen || tr.Reason != "threshold reached" || <-names != "orders" {
		t.Fatalf("trip = %+v", tr)
	}
	clock.Advance(time.Second)
	wantState(t, b, bw.StateHalfOpen)
	if tr := nextTransition(t, ch); tr.To != bw.StateHalfOpen || tr.Reason != "open duration elapsed" {
		t.Fatalf("elapsed = %+v", tr)
	}
	b.TransitionToOpen()
	manualOpen := nextTransition(t, ch)
	b.TransitionToHalfOpen()
	manualHalf := nextTransition(t, ch)
	if manualOpen.To != bw.StateOpen || manualHalf.To != bw.StateHalfOpen ||
		manualOpen.Reason == manualHalf.Reason || strings.HasPrefix(manualOpen.Reason, "reason(") ||
		manualOpen.Reason == "threshold reached" || manualHalf.Reason == "open duration elapsed" {
		t.Fatalf("manual transitions %+v %+v", manualOpen, manualHalf)
	}
	_ = b.Close()
	_ = b.Close()
}

// Interval clears the closed state's counts: failures spread over intervals do not
// trip a consecutive-failures breaker.
func TestIntervalClearsClosedCounts(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 3, Interval: 10 * time.Second}, clock)
	fail(t, b, 2)
	gen := b.Metrics().Generation
	clock.Advance(10 * time.Second)
	fail(t, b, 2)
	wantState(t, b, bw.StateClosed)
	if m := b.Metrics(); m.Generation <= gen || m.ConsecutiveFailures != 2 {
		t.Fatalf("metrics %+v (generation before %d)", m, gen)
	}
	fail(t, b, 1)
	wantState(t, b, bw.StateOpen)
	// Without Interval the same calls trip.
	c := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 3}, clock)
	fail(t, c, 2)
	clock.Advance(10 * time.Second)
	fail(t, c, 1)
	wantState(t, c, bw.StateOpen)
}

// Manual transitions and the open state's remaining time.
func TestTransitionsByHandAndRemainingOpen(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: 30 * time.Second}, clock)
	if d, open := b.RemainingOpen(); open || d != 0 {
		t.Fatalf("closed: %v %v", d, open)
	}
	b.TransitionToOpen()
	wantState(t, b, bw.StateOpen)
	clock.Advance(10 * time.Second)
	if d, open := b.RemainingOpen(); !open || d != 20*time.Second {
		t.Fatalf("open: %v %v", d, open)
	}
	clock.Advance(25 * time.Second)
	_ = b.PollEvents()
	if d, open := b.RemainingOpen(); !open || d != 0 {
		t.Fatalf("due: %v %v", d, open)
	}
	if ev := b.PollEvents(); len(ev) != 0 { // side-effect free: the due transition waits
		t.Fatalf("RemainingOpen applied %+v", ev)
	}
	b.TransitionToHalfOpen()
	wantState(t, b, bw.StateHalfOpen)
	if _, open := b.RemainingOpen(); open {
		t.Fatal("half-open reported open")
	}
	b.ForceOpen()
	if _, open := b.RemainingOpen(); open {
		t.Fatal("forced open reported open")
	}
	b.TransitionToOpen() // leaves the manual mode
	wantState(t, b, bw.StateOpen)
}

// Config reads the effective configuration back from the library: the defaults
// filled in, and the same settings when built again from it.
func TestConfigReadsTheEffectiveConfigurationBack(t *testing.T) {
	var defaults map[string]any
	if err := json.Unmarshal([]byte(bw.ConfigDefaultsJSON(bw.PolicyCircuitBreaker)), &defaults); err != nil {
		t.Fatal(err)
	}
	d := newBreaker(t, bw.BreakerSettings{}, nil).Config()
	if float64(d.ConsecutiveFailures) != defaults["consecutive_failures"] ||
		float64(d.HalfOpenMaxCalls) != defaults["half_open_max_calls"] ||
		float64(d.OpenDuration.Milliseconds()) != defaults["open_duration_ms"] ||
		d.FailureRate != 0 || d.Interval != 0 {
		t.Fatalf("default config %+v, library defaults %v", d, defaults)
	}
	for _, s := range []bw.BreakerSettings{
		{Name: "a", FailureRate: 0.5, Interval: time.Minute},
		{Name: "b", FailureRate: 0.25, WindowTime: 1500 * time.Microsecond, MinimumCalls: 3,
			SlowCallRate: 0.75, SlowDuration: 2 * time.Second},
		{Name: "c", SlowCallRate: 0.5, SlowDuration: time.Second, WindowCalls: 20, MinimumCalls: 10},
		{Name: "d", FailuresInWindow: 4, FailureWindow: 3 * time.Second, OpenDuration: time.Second,
			OpenDurationMultiplier: 2, OpenDurationCap: time.Minute, HalfOpenMaxCalls: 3,
			SuccessThreshold: 2, HalfOpenMaxWait: 5 * time.Second},
	} {
		got := newBreaker(t, s, nil).Config()
		if got.Name != s.Name || got.FailureRate != s.FailureRate || got.SlowCallRate != s.SlowCallRate ||
			got.SlowDuration != s.SlowDuration || got.FailuresInWindow != s.FailuresInWindow ||
			got.FailureWindow != s.FailureWindow || got.Interval != s.Interval || got.ConsecutiveFailures != 0 {
			t.Errorf("%+v read back as %+v", s, got)
		}
		if s.WindowTime != 0 && got.WindowTime != s.WindowTime {
			t.Errorf("window %v read back as %v", s.WindowTime, got.WindowTime)
		}
		if s.FailureRate != 0 && s.WindowTime == 0 && (got.WindowCalls == 0 || got.MinimumCalls == 0) {
			t.Errorf("rate defaults not filled in: %+v", got)
		}
		if s.HalfOpenMaxCalls != 0 && (got.HalfOpenMaxCalls != s.HalfOpenMaxCalls || got.SuccessThreshold != s.SuccessThreshold ||
			got.OpenDurationCap != s.OpenDurationCap || got.HalfOpenMaxWait != s.HalfOpenMaxWait ||
			got.OpenDurationMultiplier != s.OpenDurationMultiplier) {
			t.Errorf("%+v read back as %+v", s, got)
		}
		if again := newBreaker(t, got, nil).Config(); again != got {
			t.Errorf("round trip %+v -> %+v", got, again)
		}
	}
}

// A Permit collected without a verdict is reported ignored: its half-open admission
// comes back.
func TestAnAbandonedPermitGivesItsAdmissionBack(t *testing.T) {
	clock := bw.NewManualClock()
	b := newBreaker(t, bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenMaxCalls: 1}, clock)
	fail(t, b, 1)
	clock.Advance(time.Second)
	func() {
		p, err := b.Allow()
		if err != nil || p.Generation() == 0 {
			t.Fatalf("trial: %v", err)
		}
	}() // dropped without a verdict
	if _, err := b.Allow(); !errors.Is(err, bw.ErrTrialFull) {
		t.Fatalf("second trial call = %v", err)
	}
	for i := 0; ; i++ {
		runtime.GC()
		if b.Metrics().TotalIgnored == 1 {
			break
		}
		if i == 1000 {
			t.Fatal("the abandoned permit was never reported")
		}
		time.Sleep(time.Millisecond) // cleanups run on their own goroutine
	}
	p, err := b.Allow()
	if err != nil {
		t.Fatalf("after the cleanup: %v", err)
	}
	if err := p.Success(); err != nil {
		t.Fatal(err)
	}
	wantState(t, b, bw.StateClosed)
	// A reported permit is not reported again when collected.
	runtime.GC()
	runtime.GC()
	if m := b.Metrics(); m.TotalIgnored != 1 {
		t.Fatalf("ignored = %d", m.TotalIgnored)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "twice") {
			t.Fatalf("recovered %v", r)
		}
	}()
	_ = p.Failure()
}

// A breaker with a state-change goroutine that is never closed is still finalized,
// and its goroutine ends.
func TestAForgottenWatchedBreakerIsCollected(t *testing.T) {
	runtime.GC()
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		func() {
			b, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1},
				bw.WithOnStateChange(func(string, bw.Transition) {}))
			if err != nil {
				t.Fatal(err)
			}
			_ = b.Execute(func() error { return errDown })
		}()
	}
	if runtime.NumGoroutine() < before+5 {
		t.Fatalf("goroutines %d, before %d", runtime.NumGoroutine(), before)
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 1000 {
			t.Fatalf("goroutines %d, before %d: the watchers were not stopped", runtime.NumGoroutine(), before)
		}
		runtime.GC()
		time.Sleep(time.Millisecond) // finalizers run on their own goroutine
	}
}

// Every setting that the library refuses is named by its JSON key in the message.
func TestEverySettingsErrorNamesItsKey(t *testing.T) {
	for _, tc := range []struct {
		s   bw.BreakerSettings
		key string
	}{
		{bw.BreakerSettings{Name: strings.Repeat("n", 200)}, "name"},
		{bw.BreakerSettings{ConsecutiveFailures: -1}, "consecutive_failures"},
		{bw.BreakerSettings{FailuresInWindow: 3}, "failures_in_window.window_ms"},
		{bw.BreakerSettings{FailureWindow: time.Second}, "failures_in_window.threshold"},
		{bw.BreakerSettings{FailureRate: -0.5}, "failure_rate.threshold"},
		{bw.BreakerSettings{FailureRate: 0.5, WindowCalls: -1}, "failure_rate.window"},
		{bw.BreakerSettings{FailureRate: 0.5, WindowTime: -time.Second}, "failure_rate.window"},
		{bw.BreakerSettings{FailureRate: 0.5, MinimumCalls: -2}, "failure_rate.minimum_calls"},
		{bw.BreakerSettings{FailureRate: 0.5, SlowCallRate: 1.5, SlowDuration: time.Second}, "failure_rate.slow.threshold"},
		{bw.BreakerSettings{FailureRate: 0.5, SlowCallRate: 0.5}, "failure_rate.slow.slow_duration_ms"},
		{bw.BreakerSettings{SlowCallRate: 2, SlowDuration: time.Second}, "slow_call_rate.threshold"},
		{bw.BreakerSettings{SlowCallRate: 0.5, SlowDuration: -time.Second}, "slow_call_rate.slow_duration_ms"},
		{bw.BreakerSettings{OpenDuration: -time.Second}, "open_duration_ms"},
		{bw.BreakerSettings{OpenDurationMultiplier: 0.5}, "open_duration_multiplier"},
		{bw.BreakerSettings{OpenDurationCap: -time.Second}, "open_duration_cap_ms"},
		{bw.BreakerSettings{HalfOpenMaxCalls: -1}, "half_open_max_calls"},
		{bw.BreakerSettings{SuccessThreshold: -1}, "success_threshold"},
		{bw.BreakerSettings{HalfOpenMaxWait: -time.Second}, "half_open_max_wait_ms"},
		{bw.BreakerSettings{Interval: -time.Millisecond}, "interval_ms"},
		{bw.BreakerSettings{FailureRate: 0.5, WindowTime: time.Second, Interval: time.Second}, "interval_ms"},
	} {
		_, err := bw.NewCircuitBreaker(tc.s)
		const prefix = "breakwater: invalid circuit breaker configuration: "
		if !errors.Is(err, bw.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), prefix+tc.key) {
			t.Errorf("%+v: err = %v, want a message starting with %q", tc.s, err, tc.key)
		}
	}
}
