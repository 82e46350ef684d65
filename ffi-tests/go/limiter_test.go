package gotests

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

func newLimiter(t *testing.T, permits uint32, period time.Duration, burst uint32) (*bw.RateLimiter, *bw.ManualClock) {
	t.Helper()
	clock := bw.NewManualClock()
	t.Cleanup(func() { _ = clock.Close() })
	cfg := bw.DefaultRateLimiterConfig()
	cfg.Permits, cfg.Period, cfg.Burst, cfg.Clock = permits, period, burst, clock
	l, err := bw.NewRateLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, clock
}

func TestLimiterNPermitsPerPeriod(t *testing.T) {
	l, clock := newLimiter(t, 5, time.Second, 0)
	for period := 0; period < 3; period++ {
		for i := 0; i < 5; i++ {
			if !l.Allow() {
				t.Fatalf("period %d permit %d refused", period, i)
			}
		}
		err := l.TryAcquire(1)
		var e *bw.Error
		if !errors.Is(err, bw.ErrRateLimited) || !errors.As(err, &e) || e.RetryAfter != 200*time.Millisecond {
			t.Fatalf("err=%v", err)
		}
		clock.Advance(time.Second)
	}
	m := l.Metrics()
	if m.Permitted != 15 || m.Rejected != 3 || m.Available != 5 || m.Burst != 5 || m.EmissionInterval != 200*time.Millisecond {
		t.Fatalf("%+v", m)
	}
}

func TestLimiterBurstAndOversizedRequests(t *testing.T) {
	l, _ := newLimiter(t, 10, time.Second, 4)
	if l.TryAcquire(3) != nil || l.TryAcquire(2) == nil || l.TryAcquire(1) != nil {
		t.Fatal("burst")
	}
	var e *bw.Error
	if err := l.TryAcquire(5); !errors.As(err, &e) || e.RetryAfter != time.Duration(1<<63-1) {
		t.Fatalf("err=%v", err)
	}
}

func TestLimiterWaitAdvancesTheManualClockWithinTheDeadline(t *testing.T) {
	l, clock := newLimiter(t, 1, time.Second, 0)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if clock.Now() != time.Second {
		t.Fatal(clock.Now())
	}
	short, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	<-short.Done()
	if err := l.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err=%v", err)
	}
}

func TestLimiterWaitEndsWhenTheContextIsCancelled(t *testing.T) {
	cfg := bw.DefaultRateLimiterConfig()
	cfg.Permits, cfg.Period = 1, time.Hour
	l, err := bw.NewRateLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Allow()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	err = l.Wait(ctx)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, bw.ErrCancelled) {
		t.Fatalf("err=%v", err)
	}
	// A permit that will not come before the deadline fails at once.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	if err := l.Wait(ctx2); !errors.Is(err, bw.ErrRateLimited) {
		t.Fatalf("err=%v", err)
	}
}

func TestLimiterGoroutinesShareThePermitsExactly(t *testing.T) {
	l, _ := newLimiter(t, 1000, time.Second, 0)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if l.Allow() {
					granted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if granted.Load() != 1000 {
		t.Fatal(granted.Load())
	}
	if m := l.Metrics(); m.Permitted != 1000 || m.Rejected != 600 {
		t.Fatalf("%+v", m)
	}
}

func TestLimiterBadConfiguration(t *testing.T) {
	for _, mutate := range []func(*bw.RateLimiterConfig){
		func(c *bw.RateLimiterConfig) { c.Permits = 0 },
		func(c *bw.RateLimiterConfig) { c.Period = 0 },
	} {
		cfg := bw.DefaultRateLimiterConfig()
		mutate(&cfg)
		if l, err := bw.NewRateLimiter(cfg); l != nil || !errors.Is(err, bw.ErrInvalidConfig) {
			t.Fatalf("l=%v err=%v", l, err)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("negative period should panic")
			}
		}()
		cfg := bw.DefaultRateLimiterConfig()
		cfg.Period = -time.Second
		_, _ = bw.NewRateLimiter(cfg)
	}()
	l, _ := newLimiter(t, 1, time.Second, 0)
	_ = l.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("use after Close should panic")
			}
		}()
		l.Allow()
	}()
}
