package breakwater

/*
#include "breakwater.h"

#cgo noescape bw_retry_new_json
#cgo nocallback bw_retry_new_json
#cgo noescape bw_retry_begin
#cgo nocallback bw_retry_begin
#cgo noescape bw_retry_next
#cgo nocallback bw_retry_next
#cgo noescape bw_retry_state_attempt
#cgo nocallback bw_retry_state_attempt
#cgo nocallback bw_retry_state_free
#cgo nocallback bw_retry_free
#cgo noescape bw_retry_delays_ns
#cgo nocallback bw_retry_delays_ns
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// RetryOutcome is what an attempt's outcome means to a retry (BW_RETRY_OUTCOME_*).
type RetryOutcome uint32

// The outcomes.
const (
	RetryOutcomeSuccess   RetryOutcome = C.BW_RETRY_OUTCOME_SUCCESS
	RetryOutcomeRetryable RetryOutcome = C.BW_RETRY_OUTCOME_RETRYABLE
	RetryOutcomePermanent RetryOutcome = C.BW_RETRY_OUTCOME_PERMANENT
	RetryOutcomeRejected  RetryOutcome = C.BW_RETRY_OUTCOME_REJECTED
)

// StopReason says why a retry stopped (BW_RETRY_STOP_*); RetryContinue when it did not.
type StopReason uint32

// The stop reasons.
const (
	RetryContinue         StopReason = C.BW_RETRY_CONTINUE
	StopSucceeded         StopReason = C.BW_RETRY_STOP_SUCCEEDED
	StopAttemptsExhausted StopReason = C.BW_RETRY_STOP_ATTEMPTS_EXHAUSTED
	StopPermanent         StopReason = C.BW_RETRY_STOP_PERMANENT
	StopRejected          StopReason = C.BW_RETRY_STOP_REJECTED
	StopBudgetExhausted   StopReason = C.BW_RETRY_STOP_BUDGET_EXHAUSTED
	StopDeadlineReached   StopReason = C.BW_RETRY_STOP_DEADLINE_REACHED
)

// RetryBudgetConfig is a retry budget shared by every call of a retry: at most Percent
// of the calls over TTL may be retries, plus MinRetriesPerSec per second of TTL.
type RetryBudgetConfig struct {
	Percent          float64
	TTL              time.Duration
	MinRetriesPerSec uint32
}

// DefaultRetryBudgetConfig returns 20% of calls over 10 s plus 10 retries per second.
func DefaultRetryBudgetConfig() RetryBudgetConfig {
	return RetryBudgetConfig{Percent: 0.2, TTL: 10 * time.Second, MinRetriesPerSec: 10}
}

// RetryConfig is the configuration of a Retry. Start from DefaultRetryConfig: every
// field is sent as it is (a zero MaxAttempts is refused).
type RetryConfig struct {
	Name        string
	MaxAttempts uint32 // attempts in all, counting the first call (at least 1)
	Backoff     string // "fixed", "linear" or "exponential"
	Initial     time.Duration
	Multiplier  float64       // exponential growth factor (finite, at least 1)
	Step        time.Duration // what each retry adds to a linear backoff
	MaxDelay    time.Duration // cap on the backoff's delay; 0 for none
	MinDelay    time.Duration // floor after jitter
	// Jitter is "none", "full", "equal", "proportional" (by JitterFactor) or
	// "decorrelated".
	Jitter       string
	JitterFactor float64
	MaxElapsed   time.Duration // total time budget of a call; 0 for none
	Seed         *uint64       // nil: drawn when the retry is built
	Budget       *RetryBudgetConfig
	// Clock is the clock of the schedule and of the waits (nil: the monotonic clock). On
	// a *ManualClock the waits advance the clock instead of sleeping.
	Clock Clock
	// RetryIf says which errors are retried (nil: every error except rejections by
	// breakwater policies and Permanent errors).
	RetryIf func(error) bool
	// OnRetry is called before each wait with the failed attempt's number, the delay and
	// its error.
	OnRetry func(attempt int, delay time.Duration, err error)
}

// DefaultRetryConfig returns 3 attempts, exponential from 500 ms doubling, no cap, no
// jitter.
func DefaultRetryConfig() RetryConfig {
	return RetryConfig{MaxAttempts: 3, Backoff: "exponential", Initial: 500 * time.Millisecond,
		Multiplier: 2, Jitter: "none", JitterFactor: 0.1}
}

type retryJSON struct {
	Name         string      `json:"name"`
	MaxAttempts  uint32      `json:"max_attempts"`
	Backoff      string      `json:"backoff"`
	InitialMs    float64     `json:"initial_ms"`
	Multiplier   float64     `json:"multiplier"`
	StepMs       float64     `json:"step_ms"`
	MaxDelayMs   *float64    `json:"max_delay_ms,omitempty"`
	MinDelayMs   float64     `json:"min_delay_ms"`
	Jitter       string      `json:"jitter"`
	JitterFactor float64     `json:"jitter_factor"`
	MaxElapsedMs *float64    `json:"max_elapsed_ms,omitempty"`
	Seed         *uint64     `json:"seed,omitempty"`
	Budget       *budgetJSON `json:"budget,omitempty"`
}

type budgetJSON struct {
	Percent          float64 `json:"percent"`
	TTLMs            float64 `json:"ttl_ms"`
	MinRetriesPerSec uint32  `json:"min_retries_per_sec"`
}

// Retry runs a function again when it fails, with backoff, jitter, a time budget and
// an optional shared retry budget. The attempts run in Go, on the calling goroutine;
// the schedule is the library's. Safe for concurrent use.
type Retry struct {
	h     handle[*C.bw_retry]
	cfg   RetryConfig
	clock Clock
	own   *MonotonicClock // the clock made when none was given
}

// NewRetry builds a retry. The error matches ErrInvalidConfig (naming the field) for a
// refused configuration; a negative duration panics.
func NewRetry(cfg RetryConfig) (*Retry, error) {
	for what, d := range map[string]time.Duration{"Initial": cfg.Initial, "Step": cfg.Step,
		"MaxDelay": cfg.MaxDelay, "MinDelay": cfg.MinDelay, "MaxElapsed": cfg.MaxElapsed} {
		checkDuration("RetryConfig."+what, d)
	}
	j := retryJSON{Name: cfg.Name, MaxAttempts: cfg.MaxAttempts, Backoff: cfg.Backoff,
		InitialMs: ms(cfg.Initial), Multiplier: cfg.Multiplier, StepMs: ms(cfg.Step),
		MinDelayMs: ms(cfg.MinDelay), Jitter: cfg.Jitter, JitterFactor: cfg.JitterFactor, Seed: cfg.Seed}
	if cfg.MaxDelay > 0 {
		v := ms(cfg.MaxDelay)
		j.MaxDelayMs = &v
	}
	if cfg.MaxElapsed > 0 {
		v := ms(cfg.MaxElapsed)
		j.MaxElapsedMs = &v
	}
	if cfg.Budget != nil {
		checkDuration("RetryBudgetConfig.TTL", cfg.Budget.TTL)
		j.Budget = &budgetJSON{Percent: cfg.Budget.Percent, TTLMs: ms(cfg.Budget.TTL),
			MinRetriesPerSec: cfg.Budget.MinRetriesPerSec}
	}
	r := &Retry{cfg: cfg, clock: cfg.Clock}
	if r.clock == nil {
		r.own = NewMonotonicClock()
		r.clock = r.own
	}
	text := jsonConfig(j)
	ptr, n := cBytes(text)
	var e C.bw_error
	var p *C.bw_retry
	var err error
	withClock(r.clock, func(c *C.bw_clock) {
		err = check(C.bw_retry_new_json(ptr, n, c, &p, &e), &e)
	})
	runtime.KeepAlive(text)
	if err != nil {
		if r.own != nil {
			_ = r.own.Close()
		}
		return nil, err
	}
	r.h = handle[*C.bw_retry]{ptr: p, what: "Retry"}
	runtime.SetFinalizer(r, func(r *Retry) { _ = r.Close() })
	return r, nil
}

// Close releases the retry, after any call in progress; later calls panic. States from
// Begin stay usable. Idempotent; always returns nil.
func (r *Retry) Close() error {
	r.h.close(func(p *C.bw_retry) { C.bw_retry_free(p) })
	if r.own != nil {
		_ = r.own.Close()
	}
	return nil
}

// Delays returns the delays a fresh call failing every attempt would wait (the first
// call's schedule).
func (r *Retry) Delays() []time.Duration {
	p := r.h.acquire()
	defer r.h.release()
	var buf [64]C.uint64_t
	var n C.size_t
	var e C.bw_error
	if err := check(C.bw_retry_delays_ns(p, &buf[0], C.size_t(len(buf)), &n, &e), &e); err != nil {
		panic(err) // max_attempts is bounded by what the caller configured; see the C docs
	}
	out := make([]time.Duration, int(n))
	for i := range out {
		out[i] = nanosToDuration(uint64(buf[i]))
	}
	return out
}

// RetryState is one call under a retry, run by hand: run attempt Attempt(), report its
// outcome to Next, wait the delay or stop. Not safe for concurrent use by several
// goroutines without synchronisation of the attempts (the calls themselves are safe).
type RetryState struct {
	h handle[*C.bw_retry_state]
}

// Begin starts a call (recorded in the retry budget). A non-zero deadline (on the
// retry's clock, as its Now()) stops retries that would end past it.
func (r *Retry) Begin(deadline time.Duration) *RetryState {
	p := r.h.acquire()
	defer r.h.release()
	return beginRaw(p, uint64(max(deadline, 0)))
}

func beginRaw(p *C.bw_retry, deadlineNs uint64) *RetryState {
	var e C.bw_error
	var s *C.bw_retry_state
	if err := check(C.bw_retry_begin(p, C.uint64_t(deadlineNs), &s, &e), &e); err != nil {
		panic(err) // the handle is valid: only on a bug in the library
	}
	st := &RetryState{h: handle[*C.bw_retry_state]{ptr: s, what: "RetryState"}}
	runtime.SetFinalizer(st, func(st *RetryState) { _ = st.Close() })
	return st
}

// Attempt returns the number of the attempt to run now (from 1).
func (s *RetryState) Attempt() int {
	p := s.h.acquire()
	defer s.h.release()
	var e C.bw_error
	var out C.uint32_t
	if err := check(C.bw_retry_state_attempt(p, &out, &e), &e); err != nil {
		panic(err)
	}
	return int(out)
}

// Next reports the outcome of the current attempt, with an optional Retry-After hint (0
// for none), and returns the delay before the next attempt and RetryContinue, or the
// reason to stop.
func (s *RetryState) Next(outcome RetryOutcome, retryAfter time.Duration) (time.Duration, StopReason) {
	checkDuration("RetryState.Next retryAfter", retryAfter)
	p := s.h.acquire()
	defer s.h.release()
	var e C.bw_error
	var delay C.uint64_t
	var stop C.uint32_t
	if err := check(C.bw_retry_next(p, C.uint32_t(outcome), C.uint64_t(retryAfter), &delay, &stop, &e), &e); err != nil {
		panic(err) // an RetryOutcome out of range: a programmer error
	}
	return nanosToDuration(uint64(delay)), StopReason(stop)
}

// Close releases the state. Idempotent; always returns nil.
func (s *RetryState) Close() error {
	s.h.close(func(p *C.bw_retry_state) { C.bw_retry_state_free(p) })
	return nil
}

type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying: the retry returns err (unwrapped) at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (r *retryAfterError) Error() string { return r.err.Error() }
func (r *retryAfterError) Unwrap() error { return r.err }

// RetryAfter attaches a hint to err: the next attempt waits at least d (if that ends past
// the time budget, the retry stops). The retry returns err itself.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	checkDuration("RetryAfter", d)
	return &retryAfterError{err, d}
}

// classify returns the outcome of err, its hint and the error to return.
func (r *Retry) classify(err error) (RetryOutcome, time.Duration, error) {
	if err == nil {
		return RetryOutcomeSuccess, 0, nil
	}
	var p *permanentError
	if errors.As(err, &p) {
		return RetryOutcomePermanent, 0, p.err
	}
	var hint time.Duration
	var ra *retryAfterError
	if errors.As(err, &ra) {
		hint, err = ra.after, ra.err
	}
	if errors.Is(err, ErrRejected) {
		return RetryOutcomeRejected, 0, err
	}
	if r.cfg.RetryIf != nil && !r.cfg.RetryIf(err) {
		return RetryOutcomePermanent, 0, err
	}
	return RetryOutcomeRetryable, hint, err
}

// Do runs fn under the retry and returns nil or its last error (a Permanent or
// RetryAfter wrapper removed). A panic in fn is recorded as a permanent failure and
// re-panicked.
func (r *Retry) Do(fn func() error) error {
	return r.DoContext(context.Background(), func(context.Context, int) error { return fn() })
}

// DoContext runs fn(ctx, attempt) under the retry, honouring ctx: its deadline bounds
// the retries (no retry starts that would end past it; on a manual clock only the
// retry's own MaxElapsed applies) and a done ctx ends a wait at once, returning an error
// matching both ctx.Err() and the last error.
func (r *Retry) DoContext(ctx context.Context, fn func(ctx context.Context, attempt int) error) (result error) {
	p := r.h.acquire()
	var deadlineNs uint64
	if d, ok := ctx.Deadline(); ok {
		if _, manual := r.clock.(*ManualClock); !manual {
			now := uint64(r.clock.Now())
			deadlineNs = max(now+uint64(max(time.Until(d), 1)), 1)
		}
	}
	st := beginRaw(p, deadlineNs)
	r.h.release()
	defer st.Close()
	for {
		attempt := st.Attempt()
		err := r.runAttempt(ctx, st, fn, attempt)
		outcome, hint, err := r.classify(err)
		delay, stop := st.Next(outcome, hint)
		if stop != RetryContinue {
			return err
		}
		if r.cfg.OnRetry != nil {
			r.cfg.OnRetry(attempt, delay, err)
		}
		if werr := r.wait(ctx, delay); werr != nil {
			return fmt.Errorf("%w (last error: %w)", werr, err)
		}
	}
}

func (r *Retry) runAttempt(ctx context.Context, st *RetryState, fn func(context.Context, int) error, attempt int) (err error) {
	done := false
	defer func() {
		if !done {
			v := recover()
			st.Next(RetryOutcomePermanent, 0)
			panic(v)
		}
	}()
	err = fn(ctx, attempt)
	done = true
	return err
}

// wait waits delay on the retry's clock: advances a manual clock, else sleeps until
// delay passes or ctx is done.
func (r *Retry) wait(ctx context.Context, delay time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m, ok := r.clock.(*ManualClock); ok {
		m.Advance(delay)
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
