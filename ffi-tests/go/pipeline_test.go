package gotests

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

type tracer struct {
	name  string
	order *[]string
}

func (t tracer) Guard(ctx context.Context, fn func(context.Context) error) error {
	*t.order = append(*t.order, t.name)
	return fn(ctx)
}

func TestPipelineRunsStagesOutermostFirst(t *testing.T) {
	var order []string
	p := bw.NewPipeline(tracer{"a", &order}, tracer{"b", &order})
	err := p.Execute(func() error { order = append(order, "call"); return nil })
	if err != nil || len(order) != 3 || order[0] != "a" || order[1] != "b" || order[2] != "call" {
		t.Fatalf("err=%v order=%v", err, order)
	}
	boom := errors.New("boom")
	if err := p.Execute(func() error { return boom }); err != boom {
		t.Fatalf("the error must pass unchanged, got %v", err)
	}
}

func TestFallbackAnswersSelectedErrors(t *testing.T) {
	unavailable := errors.New("unavailable")
	answered := 0
	fb := bw.Fallback{
		When:   func(err error) bool { return errors.Is(err, bw.ErrTimedOut) },
		Answer: func(context.Context, error) error { answered++; return nil },
	}
	p := bw.NewPipeline(fb, bw.NewTimeLimiter(time.Millisecond, 2))
	release := make(chan struct{})
	defer close(release)
	if err := p.Execute(func() error { <-release; return nil }); err != nil {
		t.Fatalf("a time-out must be answered, got %v", err)
	}
	if err := p.Execute(func() error { return unavailable }); err != unavailable {
		t.Fatalf("other errors pass, got %v", err)
	}
	if answered != 1 {
		t.Fatalf("answered %d", answered)
	}
}

func TestTimeLimiterTimesOutCancelsAndBounds(t *testing.T) {
	tl := bw.NewTimeLimiter(time.Millisecond, 1)
	release := make(chan struct{})
	var sawCancel atomic.Bool
	finished := make(chan struct{})
	err := tl.ExecuteContext(context.Background(), func(ctx context.Context) error {
		defer close(finished)
		<-ctx.Done()
		sawCancel.Store(true)
		<-release
		return nil
	})
	if !errors.Is(err, bw.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrTimedOut, got %v", err)
	}
	if err := tl.Execute(func() error { return nil }); !errors.Is(err, bw.ErrQueueFull) {
		t.Fatalf("the only slot is taken by the abandoned call: want ErrQueueFull, got %v", err)
	}
	close(release)
	<-finished
	if !sawCancel.Load() {
		t.Fatal("the abandoned call must see its context cancelled")
	}
	for tl.Execute(func() error { return nil }) != nil { // the slot comes back
		runtime.Gosched()
	}
}

func TestTimeLimiterRePanicsAndHonoursTheCallersContext(t *testing.T) {
	tl := bw.NewTimeLimiter(time.Minute, 4)
	func() {
		defer func() {
			if r := recover(); r != "bad" {
				t.Fatalf("want the panic re-raised, got %v", r)
			}
		}()
		_ = tl.Execute(func() error { panic("bad") })
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bw.NewPipeline(tl).ExecuteContext(ctx, func(context.Context) error { return nil }); !errors.Is(err, bw.ErrCancelled) {
		t.Fatalf("want ErrCancelled, got %v", err)
	}
	want := errors.New("x")
	if err := tl.Execute(func() error { return want }); err != want {
		t.Fatalf("got %v", err)
	}
}

func TestBadInputPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"nil stage":    func() { bw.NewPipeline(nil) },
		"zero timeout": func() { bw.NewTimeLimiter(0, 1) },
		"zero slots":   func() { bw.NewTimeLimiter(time.Second, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: want a panic", name)
				}
			}()
			f()
		}()
	}
}
