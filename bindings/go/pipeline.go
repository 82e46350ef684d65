package breakwater

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Guard is a policy stage of a Pipeline: it runs fn (or refuses to) its own way. The
// policies of this package implement it; so can any Go value.
type Guard interface {
	Guard(ctx context.Context, fn func(context.Context) error) error
}

// GuardFunc adapts a function to the Guard interface.
type GuardFunc func(ctx context.Context, fn func(context.Context) error) error

// Guard calls f(ctx, fn).
func (f GuardFunc) Guard(ctx context.Context, fn func(context.Context) error) error {
	return f(ctx, fn)
}

// Pipeline composes guards around a call, outermost first. The guarded Go code runs in
// Go, on the calling goroutine unless a stage (TimeLimiter) moves it.
type Pipeline struct {
	stages []Guard
}

// NewPipeline returns a pipeline of stages, outermost first. A nil stage panics.
func NewPipeline(stages ...Guard) *Pipeline {
	for i, s := range stages {
		if s == nil {
			panic(fmt.Sprintf("breakwater: pipeline stage %d is nil", i))
		}
	}
	return &Pipeline{stages: append([]Guard(nil), stages...)}
}

// Execute runs fn through every stage with a background context.
func (p *Pipeline) Execute(fn func() error) error {
	return p.ExecuteContext(context.Background(), func(context.Context) error { return fn() })
}

// ExecuteContext runs fn through every stage; the context's deadline and cancellation
// apply to every stage and reach fn. A panic in fn propagates unchanged.
func (p *Pipeline) ExecuteContext(ctx context.Context, fn func(context.Context) error) error {
	return p.run(ctx, 0, fn)
}

// Guard makes a Pipeline usable as a stage of another one.
func (p *Pipeline) Guard(ctx context.Context, fn func(context.Context) error) error {
	return p.ExecuteContext(ctx, fn)
}

func (p *Pipeline) run(ctx context.Context, i int, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return contextError(err)
	}
	if i == len(p.stages) {
		return fn(ctx)
	}
	return p.stages[i].Guard(ctx, func(inner context.Context) error { return p.run(inner, i+1, fn) })
}

// contextError maps a context's error to this package's sentinels, keeping the
// context's own error reachable with errors.Is.
func contextError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimedOut, err)
	}
	return fmt.Errorf("%w: %w", ErrCancelled, err)
}

// Fallback answers the errors its When selects (every error when nil) with Answer's
// result. Use it as a Pipeline stage, usually the outermost.
type Fallback struct {
	// When selects the errors to answer; nil answers every error.
	When func(error) bool
	// Answer gives the call's result instead of the error (nil: the error is dropped).
	Answer func(ctx context.Context, err error) error
}

// Guard runs fn and answers a selected error.
func (f Fallback) Guard(ctx context.Context, fn func(context.Context) error) error {
	err := fn(ctx)
	if err == nil || (f.When != nil && !f.When(err)) {
		return err
	}
	if f.Answer == nil {
		return nil
	}
	return f.Answer(ctx, err)
}

// TimeLimiter gives the caller control back after Timeout: the guarded code runs on its
// own goroutine with a context that is cancelled at the deadline, and the caller gets
// ErrTimedOut (with context.DeadlineExceeded) while the code may go on; its late result
// is dropped.
//
// It is written in Go, not over bw_time_limiter_call: that function runs its callback
// on a library thread, which would need a C-to-Go callback, and the binding keeps
// guarded Go code in Go (SPEC 12). A goroutine is the Go equivalent of the library's
// worker thread; MaxConcurrent bounds them like max_threads.
type TimeLimiter struct {
	timeout time.Duration
	slots   chan struct{}
}

// NewTimeLimiter returns a limiter of timeout (> 0) with at most maxConcurrent (> 0)
// guarded calls running at once, abandoned ones included. Bad values panic.
func NewTimeLimiter(timeout time.Duration, maxConcurrent int) *TimeLimiter {
	if timeout <= 0 {
		panic("breakwater: TimeLimiter timeout must be greater than 0")
	}
	if maxConcurrent <= 0 {
		panic("breakwater: TimeLimiter maxConcurrent must be greater than 0")
	}
	return &TimeLimiter{timeout: timeout, slots: make(chan struct{}, maxConcurrent)}
}

// Execute runs fn under the time limit.
func (t *TimeLimiter) Execute(fn func() error) error {
	return t.ExecuteContext(context.Background(), func(context.Context) error { return fn() })
}

// ExecuteContext runs fn on its own goroutine with ctx narrowed to the time limit.
// Returns fn's error, ErrTimedOut at the limit (fn's context is then cancelled),
// ErrQueueFull when maxConcurrent calls are running, or ErrCancelled when ctx ends
// first. A panic in fn is re-panicked in the caller (unless the call was abandoned).
func (t *TimeLimiter) ExecuteContext(ctx context.Context, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return contextError(err)
	}
	select {
	case t.slots <- struct{}{}:
	default:
		return fmt.Errorf("%w: time limiter has no free slot", ErrQueueFull)
	}
	inner, cancel := context.WithTimeout(ctx, t.timeout)
	type outcome struct {
		err   error
		panic any
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() { <-t.slots }()
		var o outcome
		func() {
			defer func() {
				if r := recover(); r != nil {
					o.panic = r
				}
			}()
			o.err = fn(inner)
		}()
		done <- o
	}()
	finish := func(o outcome) error {
		cancel()
		if o.panic != nil {
			panic(o.panic)
		}
		return o.err
	}
	select {
	case o := <-done:
		return finish(o)
	case <-inner.Done():
		// A result that arrived together with the deadline wins over it.
		select {
		case o := <-done:
			return finish(o)
		default:
		}
		cancel()
		return contextError(inner.Err())
	}
}

// Guard makes a TimeLimiter a Pipeline stage.
func (t *TimeLimiter) Guard(ctx context.Context, fn func(context.Context) error) error {
	return t.ExecuteContext(ctx, fn)
}
