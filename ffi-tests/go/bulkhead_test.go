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

func newBulkhead(t *testing.T, max uint32, maxWait time.Duration, clock bw.Clock) *bw.Bulkhead {
	t.Helper()
	b, err := bw.NewBulkhead(bw.BulkheadConfig{MaxConcurrent: max, MaxWait: maxWait, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond) // synchronisation with a parked waiter, not a timing assert
	}
}

func TestBulkheadCountsExactly(t *testing.T) {
	b := newBulkhead(t, 2, 0, nil)
	if !b.TryAcquire() || !b.TryAcquire() || b.TryAcquire() {
		t.Fatal("permits")
	}
	if err := b.Execute(func() error { return nil }); !errors.Is(err, bw.ErrBulkheadFull) || !errors.Is(err, bw.ErrRejected) {
		t.Fatalf("err=%v", err)
	}
	m := b.Metrics()
	if m.Max != 2 || m.InUse != 2 || m.Available != 0 || m.Rejected != 2 || m.Peak != 2 || m.Acquired != 2 {
		t.Fatalf("%+v", m)
	}
	if b.Release() != nil || b.Release() != nil {
		t.Fatal("release")
	}
	if err := b.Release(); !errors.Is(err, bw.ErrInvalidArgument) {
		t.Fatalf("err=%v", err)
	}
	if m := b.Metrics(); m.InUse != 0 || m.Available != 2 {
		t.Fatalf("%+v", m)
	}
}

func TestExecuteReturnsTheErrorAndReleases(t *testing.T) {
	b := newBulkhead(t, 1, 0, nil)
	want := errors.New("boom")
	if err := b.Execute(func() error {
		if b.TryAcquire() {
			t.Error("the only permit is held")
		}
		return want
	}); err != want {
		t.Fatalf("err=%v", err)
	}
	if b.Metrics().InUse != 0 {
		t.Fatal("leaked")
	}
}

func TestExecuteRePanicsAndReleases(t *testing.T) {
	b := newBulkhead(t, 1, 0, nil)
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v", v)
			}
		}()
		_ = b.Execute(func() error { panic("boom") })
	}()
	if b.Metrics().InUse != 0 {
		t.Fatal("a panic leaked the permit")
	}
}

func TestExecuteContextWaitsUntilTheContextIsDone(t *testing.T) {
	b := newBulkhead(t, 1, 0, nil)
	b.TryAcquire()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.ExecuteContext(ctx, func(context.Context) error { return nil }) }()
	waitFor(func() bool { return b.Metrics().Waiting == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !errors.Is(err, bw.ErrCancelled) {
		t.Fatalf("err=%v", err)
	}
	// A waiter gets a released permit.
	go func() {
		done <- b.ExecuteContext(context.Background(), func(ctx context.Context) error { return nil })
	}()
	waitFor(func() bool { return b.Metrics().Waiting == 1 })
	_ = b.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m := b.Metrics(); m.InUse != 0 || m.Waiting != 0 {
		t.Fatalf("%+v", m)
	}
	// A deadline that passed refuses at once.
	b.TryAcquire()
	past, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	<-past.Done()
	if err := b.ExecuteContext(past, func(context.Context) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err=%v", err)
	}
	_ = b.Release()
}

func TestExecuteWaitsMaxWaitOnTheManualClock(t *testing.T) {
	clock := bw.NewManualClock()
	defer clock.Close()
	b := newBulkhead(t, 1, 100*time.Millisecond, clock)
	b.TryAcquire()
	done := make(chan error)
	go func() { done <- b.Execute(func() error { return nil }) }()
	waitFor(func() bool { return b.Metrics().Waiting == 1 })
	clock.Advance(99 * time.Millisecond)
	clock.Advance(time.Millisecond)
	if err := <-done; !errors.Is(err, bw.ErrBulkheadFull) {
		t.Fatalf("err=%v", err)
	}
	if m := b.Metrics(); m.InUse != 1 || m.Rejected != 1 || m.Waiting != 0 {
		t.Fatalf("%+v", m)
	}
	_ = b.Release()
}

func TestBulkheadGoroutineStress(t *testing.T) {
	const max = 3
	b := newBulkhead(t, max, time.Hour, nil)
	var inside, worst atomic.Int64
	var wg sync.WaitGroup
	const rounds = 2000
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				err := b.ExecuteContext(context.Background(), func(context.Context) error {
					n := inside.Add(1)
					for {
						w := worst.Load()
						if n <= w || worst.CompareAndSwap(w, n) {
							break
						}
					}
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	m := b.Metrics()
	if worst.Load() > max || worst.Load() < 1 || m.InUse != 0 || m.Available != max || m.Acquired != 8*rounds || m.Rejected != 0 {
		t.Fatalf("worst=%d %+v", worst.Load(), m)
	}
}

func TestBulkheadBadConfiguration(t *testing.T) {
	if b, err := bw.NewBulkhead(bw.BulkheadConfig{}); b != nil || !errors.Is(err, bw.ErrInvalidConfig) {
		t.Fatalf("b=%v err=%v", b, err)
	}
	if b, err := bw.NewBulkhead(bw.DefaultBulkheadConfig()); err != nil || b.Metrics().Max != 25 {
		t.Fatalf("err=%v", err)
	} else {
		_ = b.Close()
		_ = b.Close()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("negative MaxWait should panic")
			}
		}()
		_, _ = bw.NewBulkhead(bw.BulkheadConfig{MaxConcurrent: 1, MaxWait: -1})
	}()
}
