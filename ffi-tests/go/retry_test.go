package gotests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

var errFlaky = errors.New("flaky")

func newRetry(t *testing.T, mutate func(*bw.RetryConfig)) (*bw.Retry, *bw.ManualClock) {
	t.Helper()
	clock := bw.NewManualClock()
	t.Cleanup(func() { _ = clock.Close() })
	cfg := bw.DefaultRetryConfig()
	cfg.Clock = clock
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := bw.NewRetry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, clock
}

func TestRetryRetriesThenSucceedsOnTheManualClock(t *testing.T) {
	r, clock := newRetry(t, func(c *bw.RetryConfig) { c.MaxAttempts = 4 })
	calls := 0
	err := r.Do(func() error {
		calls++
		if calls < 3 {
			return errFlaky
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
	if got := clock.Now(); got != 1500*time.Millisecond {
		t.Fatalf("clock at %v", got)
	}
}

func TestRetryReturnsTheLastErrorUnchanged(t *testing.T) {
	r, clock := newRetry(t, func(c *bw.RetryConfig) { c.Initial = 100 * time.Millisecond })
	errs := []error{errors.New("a"), errors.New("b"), errors.New("c")}
	calls := 0
	err := r.Do(func() error { calls++; return errs[calls-1] })
	if err != errs[2] || calls != 3 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
	if clock.Now() != 300*time.Millisecond {
		t.Fatal(clock.Now())
	}
}

func TestPermanentAndRejectionsStopAtOnce(t *testing.T) {
	r, clock := newRetry(t, func(c *bw.RetryConfig) { c.MaxAttempts = 5 })
	calls := 0
	err := r.Do(func() error { calls++; return bw.Permanent(errFlaky) })
	if err != errFlaky || calls != 1 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
	b, err := bw.NewBulkhead(bw.BulkheadConfig{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.TryAcquire()
	calls = 0
	err = r.Do(func() error { calls++; return b.Execute(func() error { return nil }) })
	if !errors.Is(err, bw.ErrBulkheadFull) || calls != 1 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
	if clock.Now() != 0 {
		t.Fatal("slept")
	}
	calls = 0
	r2, _ := newRetry(t, func(c *bw.RetryConfig) {
		c.MaxAttempts = 5
		c.RetryIf = func(err error) bool { return err == errFlaky }
	})
	other := errors.New("other")
	err = r2.Do(func() error {
		calls++
		if calls == 1 {
			return errFlaky
		}
		return other
	})
	if err != other || calls != 2 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
}

func TestRetryAfterHintReplacesASmallerDelay(t *testing.T) {
	r, clock := newRetry(t, func(c *bw.RetryConfig) {
		c.Backoff = "fixed"
		c.Initial = 100 * time.Millisecond
	})
	calls := 0
	var seen []time.Duration
	err := r.Do(func() error {
		calls++
		if calls == 1 {
			return bw.RetryAfter(errFlaky, 3*time.Second)
		}
		return nil
	})
	if err != nil || clock.Now() != 3*time.Second {
		t.Fatalf("err=%v now=%v", err, clock.Now())
	}
	r3, clock3 := newRetry(t, func(c *bw.RetryConfig) {
		c.OnRetry = func(attempt int, d time.Duration, err error) { seen = append(seen, d) }
	})
	_ = r3.Do(func() error { return errFlaky })
	if fmt.Sprint(seen) != "[500ms 1s]" || clock3.Now() != 1500*time.Millisecond {
		t.Fatalf("seen=%v now=%v", seen, clock3.Now())
	}
}

func TestSeededScheduleThroughTheStateEqualsDelays(t *testing.T) {
	seed := uint64(42)
	r, clock := newRetry(t, func(c *bw.RetryConfig) {
		c.MaxAttempts = 6
		c.Initial = 100 * time.Millisecond
		c.MaxDelay = 2 * time.Second
		c.Jitter = "proportional"
		c.JitterFactor = 0.5
		c.MinDelay = 100 * time.Millisecond
		c.Seed = &seed
	})
	want := r.Delays()
	if len(want) != 5 {
		t.Fatal(want)
	}
	st := r.Begin(0)
	defer st.Close()
	var got []time.Duration
	for {
		if st.Attempt() != len(got)+1 {
			t.Fatal("attempt", st.Attempt())
		}
		d, stop := st.Next(bw.RetryOutcomeRetryable, 0)
		if stop != bw.RetryContinue {
			if stop != bw.StopAttemptsExhausted {
				t.Fatal(stop)
			}
			break
		}
		got = append(got, d)
		clock.Advance(d)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestStateDeadlineAndBudget(t *testing.T) {
	r, clock := newRetry(t, func(c *bw.RetryConfig) {
		c.MaxAttempts = 10
		c.Backoff = "fixed"
		c.Initial = 100 * time.Millisecond
	})
	st := r.Begin(clock.Now() + 250*time.Millisecond)
	for i := 0; i < 2; i++ {
		d, stop := st.Next(bw.RetryOutcomeRetryable, 0)
		if stop != bw.RetryContinue {
			t.Fatal(stop)
		}
		clock.Advance(d)
	}
	if _, stop := st.Next(bw.RetryOutcomeRetryable, 0); stop != bw.StopDeadlineReached {
		t.Fatal(stop)
	}
	st.Close()
	b, _ := newRetry(t, func(c *bw.RetryConfig) {
		c.MaxAttempts = 5
		c.Initial = 0
		c.Backoff = "fixed"
		c.Budget = &bw.RetryBudgetConfig{Percent: 0.5, TTL: 10 * time.Second}
	})
	s1, s2 := b.Begin(0), b.Begin(0)
	defer s1.Close()
	defer s2.Close()
	if _, stop := s1.Next(bw.RetryOutcomeRetryable, 0); stop != bw.RetryContinue {
		t.Fatal(stop)
	}
	if _, stop := s1.Next(bw.RetryOutcomeRetryable, 0); stop != bw.StopBudgetExhausted {
		t.Fatal(stop)
	}
	if _, stop := s2.Next(bw.RetryOutcomeSuccess, 0); stop != bw.StopSucceeded {
		t.Fatal(stop)
	}
}

func TestDoContextStopsWhenTheContextEnds(t *testing.T) {
	// Monotonic clock, one-hour backoff: only the context can end the wait.
	cfg := bw.DefaultRetryConfig()
	cfg.Backoff = "fixed"
	cfg.Initial = time.Hour
	r, err := bw.NewRetry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err = r.DoContext(ctx, func(ctx context.Context, attempt int) error {
		calls++
		if attempt != calls {
			t.Errorf("attempt %d", attempt)
		}
		cancel()
		return errFlaky
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errFlaky) || calls != 1 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
	// A deadline that the next delay would pass stops at once, without waiting.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	calls = 0
	err = r.DoContext(ctx2, func(context.Context, int) error { calls++; return errFlaky })
	if err != errFlaky || calls != 1 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
}

func TestAPanicIsRecordedAndRePanicked(t *testing.T) {
	r, clock := newRetry(t, nil)
	defer func() {
		if v := recover(); v != "boom" {
			t.Fatalf("recovered %v", v)
		}
		if clock.Now() != 0 {
			t.Fatal("retried a panic")
		}
	}()
	_ = r.Do(func() error { panic("boom") })
}

func TestRetryGoroutines(t *testing.T) {
	r, _ := newRetry(t, func(c *bw.RetryConfig) { c.Initial = 0; c.Backoff = "fixed" })
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			errs[i] = r.Do(func() error {
				n++
				if n < 3 {
					return errFlaky
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRetryBadConfiguration(t *testing.T) {
	cases := []struct {
		mutate func(*bw.RetryConfig)
		field  string
	}{
		{func(c *bw.RetryConfig) { c.MaxAttempts = 0 }, "max_attempts"},
		{func(c *bw.RetryConfig) { c.Multiplier = 0.5 }, "multiplier"},
		{func(c *bw.RetryConfig) { c.Backoff = "quadratic" }, "backoff"},
		{func(c *bw.RetryConfig) { c.Jitter = "wild" }, "jitter"},
		{func(c *bw.RetryConfig) { c.Jitter = "proportional"; c.JitterFactor = 2 }, "jitter"},
		{func(c *bw.RetryConfig) { c.MaxDelay = time.Millisecond }, "max_delay"},
		{func(c *bw.RetryConfig) { c.Budget = &bw.RetryBudgetConfig{Percent: 2, TTL: time.Second} }, "percent"},
	}
	for _, tc := range cases {
		cfg := bw.DefaultRetryConfig()
		tc.mutate(&cfg)
		r, err := bw.NewRetry(cfg)
		if r != nil || !errors.Is(err, bw.ErrInvalidConfig) {
			t.Fatalf("%s: r=%v err=%v", tc.field, r, err)
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Fatalf("%q does not name %s", err, tc.field)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("a negative duration should panic")
			}
		}()
		cfg := bw.DefaultRetryConfig()
		cfg.Initial = -1
		_, _ = bw.NewRetry(cfg)
	}()
	r, _ := newRetry(t, nil)
	st := r.Begin(0)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("an unknown outcome should panic")
			}
		}()
		st.Next(bw.RetryOutcome(9), 0)
	}()
	_ = st.Close()
	_ = r.Close()
	_ = r.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("use after Close should panic")
			}
		}()
		r.Do(func() error { return nil })
	}()
}
