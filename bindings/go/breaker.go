package breakwater

/*
#cgo noescape bw_breaker_new_json
#cgo nocallback bw_breaker_new_json
#cgo noescape bw_breaker_new_json_with_listeners
#cgo nocallback bw_breaker_new_json_with_listeners
#cgo nocallback bw_breaker_free
#cgo noescape bw_breaker_record
#cgo nocallback bw_breaker_record
#cgo noescape bw_breaker_record_duration
#cgo nocallback bw_breaker_record_duration
#cgo noescape bw_breaker_state
#cgo nocallback bw_breaker_state
#cgo noescape bw_breaker_metrics
#cgo nocallback bw_breaker_metrics
#cgo noescape bw_breaker_reset
#cgo nocallback bw_breaker_reset
#cgo noescape bw_breaker_force_open
#cgo nocallback bw_breaker_force_open
#cgo noescape bw_breaker_disable
#cgo nocallback bw_breaker_disable
#cgo noescape bw_breaker_name
#cgo nocallback bw_breaker_name
#cgo noescape bw_breaker_poll_events
#cgo nocallback bw_breaker_poll_events
#cgo noescape bw_breaker_transition_to_open
#cgo nocallback bw_breaker_transition_to_open
#cgo noescape bw_breaker_transition_to_half_open
#cgo nocallback bw_breaker_transition_to_half_open
#cgo noescape bw_breaker_remaining_open_ns
#cgo nocallback bw_breaker_remaining_open_ns
#cgo noescape bw_registry_new
#cgo nocallback bw_registry_new
#cgo nocallback bw_registry_free
#cgo noescape bw_registry_breaker
#cgo nocallback bw_registry_breaker

#include "breakwater.h"

// The hot path (Execute, Allow) calls the library through these two wrappers, which
// take the breaker as an integer and exchange values only: with no pointer among the
// arguments, cgo emits no pointer check and needs no noescape/nocallback directive
// (whose run-time check costs every call).

// bwgo_admission is the answer of bwgo_admit: bw_breaker_admit's status and admission.
typedef struct {
	bw_breaker_admission a;
	bw_status status;
} bwgo_admission;

static inline bwgo_admission bwgo_admit(uintptr_t breaker) {
	bwgo_admission r = {0};
	r.status = bw_breaker_admit((const bw_breaker *)breaker, &r.a, NULL);
	return r;
}

static inline void bwgo_record(uintptr_t breaker, bw_permit permit, uint32_t outcome) {
	bw_breaker_record((const bw_breaker *)breaker, permit, outcome, NULL);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// BreakerState is the state of a circuit breaker.
type BreakerState uint32

// The states of a circuit breaker.
const (
	StateClosed     BreakerState = C.BW_STATE_CLOSED
	StateOpen       BreakerState = C.BW_STATE_OPEN
	StateHalfOpen   BreakerState = C.BW_STATE_HALF_OPEN
	StateForcedOpen BreakerState = C.BW_STATE_FORCED_OPEN
	StateDisabled   BreakerState = C.BW_STATE_DISABLED
)

// String returns the state's name as the library gives it (bw_state_name: "closed",
// "open", "half-open", "forced-open" or "disabled").
func (s BreakerState) String() string {
	if n := C.bw_state_name(C.uint32_t(s)); n != nil {
		return C.GoString(n)
	}
	return fmt.Sprintf("state(%d)", uint32(s))
}

// Outcome is the verdict on a call reported through a Permit.
type Outcome uint32

// The outcomes of a call.
const (
	OutcomeSuccess Outcome = C.BW_OUTCOME_SUCCESS
	OutcomeFailure Outcome = C.BW_OUTCOME_FAILURE
	OutcomeIgnored Outcome = C.BW_OUTCOME_IGNORED
)

// Transition is a state change of a breaker, from PollEvents.
type Transition struct {
	From, To BreakerState
	// Reason is "threshold reached", "open duration elapsed", "trial succeeded",
	// "trial failed", "half-open timeout", "reset", "forced open" or "disabled".
	Reason string
	// Generation is the generation the transition started.
	Generation uint64
	// At is the time of the transition on the breaker's clock.
	At time.Duration
}

// BreakerOption is an option of NewCircuitBreaker and Registry.CircuitBreaker.
type BreakerOption func(*breakerOptions)

type breakerOptions struct {
	clock         Clock
	isSuccessful  func(error) bool
	classify      func(v any, err error) Outcome
	onStateChange func(name string, t Transition)
	onCall        func(e CallEvent)
	callEvents    bool // WithOnCall or WithCallEvents: built with the call-event queue
}

// WithClock makes the breaker read clock (a *ManualClock in tests). Defaults to the
// monotonic clock.
func WithClock(clock Clock) BreakerOption {
	return func(o *breakerOptions) { o.clock = clock }
}

// WithIsSuccessful classifies the errors of Execute's function: true records a
// success. Defaults to err == nil.
func WithIsSuccessful(f func(err error) bool) BreakerOption {
	return func(o *breakerOptions) { o.isSuccessful = f }
}

// WithClassifier classifies the outcome of Execute's function over its value and
// error: OutcomeSuccess, OutcomeFailure or OutcomeIgnored (neither counted; a half-open
// admission is given back). v is the value Execute[T] returned (nil for the
// CircuitBreaker.Execute methods). It takes precedence over WithIsSuccessful. Defaults
// to success when err is nil, failure otherwise.
func WithClassifier(f func(v any, err error) Outcome) BreakerOption {
	return func(o *breakerOptions) { o.classify = f }
}

// WithOnStateChange delivers every state transition of the breaker to f, with the
// breaker's name (gobreaker's OnStateChange). f runs on a goroutine of the binding,
// one transition at a time and in order, shortly after the call that caused it; it
// may call the breaker. The transitions are taken from the queue PollEvents reads, so
// do not use both. Close stops the goroutine (transitions not yet delivered are
// dropped); so does the finalizer of a breaker no longer referenced (f itself should
// not hold the breaker then).
func WithOnStateChange(f func(name string, t Transition)) BreakerOption {
	return func(o *breakerOptions) { o.onStateChange = f }
}

// CircuitBreaker stops calling a dependency that keeps failing. Safe for concurrent
// use; Close it when done (a finalizer closes it otherwise).
type CircuitBreaker struct {
	h            *handle[*C.bw_breaker] // shared with the watcher, which must not hold b
	isSuccessful func(error) bool
	classify     func(v any, err error) Outcome
	watch        *watcher // nil without WithOnStateChange and WithOnCall
	// lastOpen is the *Error of the latest open refusal with a retry-after (shared
	// while the library answers the same time left; never modified once stored).
	lastOpen atomic.Pointer[Error]
}

func cString(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

func newBreaker(p *C.bw_breaker, o *breakerOptions) *CircuitBreaker {
	b := &CircuitBreaker{h: &handle[*C.bw_breaker]{ptr: p, what: "CircuitBreaker"},
		isSuccessful: o.isSuccessful, classify: o.classify}
	runtime.SetFinalizer(b, func(b *CircuitBreaker) { _ = b.Close() })
	if o.onStateChange != nil || o.onCall != nil {
		b.watch = startWatcher(b, o.onStateChange, o.onCall)
	}
	return b
}

func options(opts []BreakerOption) *breakerOptions {
	o := &breakerOptions{}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// NewCircuitBreaker builds a breaker from settings (the zero value: the library's
// defaults). An invalid setting gives an error matching ErrInvalidConfig whose message
// names the field as a JSON key (e.g. failure_rate.threshold).
func NewCircuitBreaker(settings BreakerSettings, opts ...BreakerOption) (*CircuitBreaker, error) {
	text, err := settingsText(settings)
	if err != nil {
		return nil, err
	}
	return NewCircuitBreakerJSON(text, opts...)
}

// NewCircuitBreakerJSON builds a breaker from JSON text in the C ABI's form
// (bw_breaker_new_json; empty for the defaults). Errors as NewCircuitBreaker.
func NewCircuitBreakerJSON(text string, opts ...BreakerOption) (*CircuitBreaker, error) {
	o := options(opts)
	var clock *C.bw_clock
	if o.clock != nil {
		c, release := o.clock.cClock()
		defer release()
		clock = c
	}
	var e C.bw_error
	var p *C.bw_breaker
	ptr, n := cString(text)
	var s C.bw_status
	if o.callEvents {
		// No C callbacks (on_event and on_call NULL): the call events are polled.
		s = C.bw_breaker_new_json_with_listeners(ptr, n, clock, nil, nil, nil, &p, &e)
	} else {
		s = C.bw_breaker_new_json(ptr, n, clock, &p, &e)
	}
	if err := check(s, &e); err != nil {
		return nil, err
	}
	runtime.KeepAlive(text)
	return newBreaker(p, o), nil
}

// Permit is the permission to run one call (from Allow): report its outcome once with
// Success, Failure, Ignore or Report. Reporting returns an error matching ErrStale when
// the breaker changed state since the permit was acquired (the outcome is dropped). A
// Permit garbage collected without a verdict is reported ignored, so that it gives its
// half-open admission back (SPEC 3).
type Permit struct {
	b     *CircuitBreaker
	raw   C.bw_permit
	state *permitState
}

// permitState is what the cleanup of a Permit needs (never the Permit itself).
type permitState struct {
	b        *CircuitBreaker
	raw      C.bw_permit
	reported atomic.Bool
}

// abandoned reports a permit collected without a verdict as ignored.
func abandoned(st *permitState) {
	if st.reported.Swap(true) {
		return
	}
	ptr, ok := st.b.h.tryAcquire()
	if !ok {
		return
	}
	C.bw_breaker_record(ptr, st.raw, C.uint32_t(OutcomeIgnored), nil)
	st.b.h.release()
	st.b.kick()
}

// Generation returns the generation the call was admitted in.
func (p *Permit) Generation() uint64 { return uint64(p.raw.generation) }

// recordRaw reports outcome for a raw permit without an error object (Execute ignores
// stale outcomes): the fast path.
func (b *CircuitBreaker) recordRaw(raw C.bw_permit, outcome Outcome) {
	ptr := b.h.acquire()
	C.bwgo_record(C.uintptr_t(uintptr(unsafe.Pointer(ptr))), raw, C.uint32_t(outcome))
	b.h.release()
	b.kick()
}

// verdict marks the permit reported; it panics on a second verdict.
func (p *Permit) verdict() {
	if p.state.reported.Swap(true) {
		panic("breakwater: Permit reported twice")
	}
}

func (p *Permit) record(outcome Outcome) error {
	p.verdict()
	ptr := p.b.h.acquire()
	var e C.bw_error
	s := C.bw_breaker_record(ptr, p.raw, C.uint32_t(outcome), &e)
	p.b.h.release()
	p.b.kick()
	return check(s, &e)
}

// Success reports a success.
func (p *Permit) Success() error { return p.record(OutcomeSuccess) }

// Failure reports a failure.
func (p *Permit) Failure() error { return p.record(OutcomeFailure) }

// Ignore reports neither (a half-open admission is given back).
func (p *Permit) Ignore() error { return p.record(OutcomeIgnored) }

// Report reports outcome with the call's duration (for slow-call policies). It panics
// on a negative duration or an unknown outcome.
func (p *Permit) Report(outcome Outcome, duration time.Duration) error {
	if duration < 0 {
		panic(fmt.Sprintf("breakwater: Permit.Report: negative duration %v", duration))
	}
	p.verdict()
	ptr := p.b.h.acquire()
	defer p.b.kick()
	defer p.b.h.release()
	var e C.bw_error
	s := C.bw_breaker_record_duration(ptr, p.raw, C.uint32_t(outcome), C.uint64_t(duration), &e)
	if s == C.BW_INVALID_ARGUMENT {
		panic(newError(&e))
	}
	return check(s, &e)
}

// refusal is the error of a refusal answered by bw_breaker_admit: a shared *Error per
// reason (like the sentinels, it must not be modified), or for an open breaker's
// refusal, the *Error carrying its time left (RetryAfter). That one is shared too while
// the library answers the same time left: the library computes it on its coarse clock,
// which moves every few milliseconds (a manual clock only when advanced), so the
// refusals of one tick share one *Error, and a refusal allocates about once per tick.
func (b *CircuitBreaker) refusal(a *C.bw_breaker_admission) error {
	switch {
	case a.reason == C.BW_REASON_OPEN && bool(a.has_retry_after):
		d := nanosToDuration(uint64(a.retry_after_ns))
		if e := b.lastOpen.Load(); e != nil && e.RetryAfter == d {
			return e
		}
		e := *errOpen
		e.HasRetryAfter, e.RetryAfter = true, d
		b.lastOpen.Store(&e)
		return &e
	case a.reason == C.BW_REASON_OPEN:
		return errOpen
	case a.reason == C.BW_REASON_TRIAL_FULL:
		return errTrialFull
	case a.reason == C.BW_REASON_FORCED_OPEN:
		return errForcedOpen
	}
	// A reason this binding does not know (a newer library).
	return &Error{Status: StatusRejected, Policy: PolicyCircuitBreaker, Reason: Reason(a.reason),
		HasRetryAfter: bool(a.has_retry_after), RetryAfter: nanosToDuration(uint64(a.retry_after_ns)),
		Message: rejectionMessage(PolicyCircuitBreaker, Reason(a.reason))}
}

// admit is one call of the library (bw_breaker_admit): a refusal is an answer (no
// error object, no message written, nothing formatted).
func (b *CircuitBreaker) admit() (C.bw_permit, error) {
	ptr := b.h.acquire()
	r := C.bwgo_admit(C.uintptr_t(uintptr(unsafe.Pointer(ptr))))
	b.h.release()
	b.kick()
	if r.status != C.BW_OK {
		// Only a panic in the library can fail a call with valid pointers.
		return r.a.permit, &Error{Status: Status(r.status), Message: "bw_breaker_admit failed"}
	}
	if r.a.reason != C.BW_REASON_NONE {
		return r.a.permit, b.refusal(&r.a)
	}
	return r.a.permit, nil
}

// Allow asks to run one call: a Permit, or an error matching ErrCircuitOpen (and
// ErrTrialFull or ErrForcedOpen) with RetryAfter when the breaker refuses. The *Error
// of a refusal is shared (no allocation; an open refusal's while its RetryAfter is the
// same): do not modify it.
func (b *CircuitBreaker) Allow() (*Permit, error) {
	raw, err := b.admit()
	if err != nil {
		return nil, err
	}
	st := &permitState{b: b, raw: raw}
	p := &Permit{b: b, raw: raw, state: st}
	runtime.AddCleanup(p, abandoned, st)
	return p, nil
}

// outcomeOf classifies a call's value and error (WithClassifier, WithIsSuccessful, or
// err == nil).
func (b *CircuitBreaker) outcomeOf(v any, err error) Outcome {
	switch {
	case b.classify != nil:
		return b.classify(v, err)
	case b.isSuccessful != nil:
		if b.isSuccessful(err) {
			return OutcomeSuccess
		}
		return OutcomeFailure
	case err == nil:
		return OutcomeSuccess
	default:
		return OutcomeFailure
	}
}

// Execute runs fn through cb and returns its value and error unchanged, or a
// rejection (ErrCircuitOpen, ...) and the zero T without running it. The outcome is
// classified over the value and the error (WithClassifier). A panic in fn is recorded
// as a failure and keeps unwinding.
func Execute[T any](cb *CircuitBreaker, fn func() (T, error)) (T, error) {
	raw, err := cb.admit()
	if err != nil {
		var zero T
		return zero, err
	}
	done := false
	defer func() {
		if !done {
			cb.recordRaw(raw, OutcomeFailure)
		}
	}()
	v, err := fn()
	done = true
	if cb.classify != nil {
		cb.recordRaw(raw, cb.classify(v, err))
	} else {
		cb.recordRaw(raw, cb.outcomeOf(nil, err))
	}
	return v, err
}

// ExecuteClassified is Execute[T] with a typed classifier for this call, which takes
// precedence over the breaker's WithClassifier and WithIsSuccessful.
func ExecuteClassified[T any](cb *CircuitBreaker, fn func() (T, error), classify func(v T, err error) Outcome) (T, error) {
	raw, err := cb.admit()
	if err != nil {
		var zero T
		return zero, err
	}
	done := false
	defer func() {
		if !done {
			cb.recordRaw(raw, OutcomeFailure)
		}
	}()
	v, err := fn()
	done = true
	cb.recordRaw(raw, classify(v, err))
	return v, err
}

// Execute runs fn through the breaker and returns its error unchanged, or a rejection
// (ErrCircuitOpen, ...) without running it. A panic in fn is recorded as a failure and
// keeps unwinding.
func (b *CircuitBreaker) Execute(fn func() error) error {
	raw, err := b.admit()
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			b.recordRaw(raw, OutcomeFailure)
		}
	}()
	err = fn()
	done = true
	b.recordRaw(raw, b.outcomeOf(nil, err))
	return err
}

// ExecuteContext is Execute honouring ctx: when ctx is already done it returns
// ctx.Err() without running fn (nor counting a call); fn receives ctx and should
// return when it is done. An error of fn caused by the cancellation of ctx
// (context.Canceled) is recorded as ignored, not as a failure of the dependency; a
// deadline exceeded is a failure.
func (b *CircuitBreaker) ExecuteContext(ctx context.Context, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	raw, err := b.admit()
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			b.recordRaw(raw, OutcomeFailure)
		}
	}()
	err = fn(ctx)
	done = true
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		b.recordRaw(raw, OutcomeIgnored)
	} else {
		b.recordRaw(raw, b.outcomeOf(nil, err))
	}
	return err
}

// State returns the current state (a due transition is applied first).
func (b *CircuitBreaker) State() BreakerState {
	ptr := b.h.acquire()
	defer b.kick() // a due transition may have been applied
	defer b.h.release()
	var e C.bw_error
	var s C.uint32_t
	if err := check(C.bw_breaker_state(ptr, &s, &e), &e); err != nil {
		panic(err)
	}
	return BreakerState(s)
}

// Name returns the breaker's name.
func (b *CircuitBreaker) Name() string {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	var buf [128]C.char
	var n C.size_t
	s := C.bw_breaker_name(ptr, &buf[0], C.size_t(len(buf)), &n, &e)
	if s == C.BW_BUFFER_TOO_SMALL {
		big := make([]C.char, int(n)+1)
		s = C.bw_breaker_name(ptr, &big[0], C.size_t(len(big)), &n, &e)
		if err := check(s, &e); err != nil {
			panic(err)
		}
		return C.GoStringN(&big[0], C.int(n))
	}
	if err := check(s, &e); err != nil {
		panic(err)
	}
	return C.GoStringN(&buf[0], C.int(n))
}

// BreakerMetrics is a snapshot of a breaker's counts: of the current state (Requests
// ... WindowFailures; the rates are -1 when not computed) and since the breaker was
// built (Total*, rejections by reason, StaleDropped, Transitions, Opened,
// EventsDropped).
type BreakerMetrics struct {
	State                                        BreakerState
	Generation                                   uint64
	Requests, Successes, Failures, Ignored, Slow uint64
	ConsecutiveSuccesses, ConsecutiveFailures    uint64
	WindowCalls, WindowFailures                  uint64
	FailureRate, SlowCallRate                    float64
	TotalRequests, TotalSuccesses, TotalFailures uint64
	TotalIgnored, TotalSlow                      uint64
	RejectedOpen, RejectedTrialFull              uint64
	RejectedForcedOpen, StaleDropped             uint64
	Transitions, Opened, EventsDropped           uint64
}

// Metrics returns a snapshot of the breaker's counts.
func (b *CircuitBreaker) Metrics() BreakerMetrics {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	var m C.bw_breaker_stats
	m.size = C.size_t(unsafe.Sizeof(m))
	if err := check(C.bw_breaker_metrics(ptr, &m, &e), &e); err != nil {
		panic(err)
	}
	return BreakerMetrics{
		State: BreakerState(m.state), Generation: uint64(m.generation),
		Requests: uint64(m.requests), Successes: uint64(m.successes), Failures: uint64(m.failures),
		Ignored: uint64(m.ignored), Slow: uint64(m.slow),
		ConsecutiveSuccesses: uint64(m.consecutive_successes), ConsecutiveFailures: uint64(m.consecutive_failures),
		WindowCalls: uint64(m.window_calls), WindowFailures: uint64(m.window_failures),
		FailureRate: float64(m.failure_rate), SlowCallRate: float64(m.slow_call_rate),
		TotalRequests: uint64(m.total_requests), TotalSuccesses: uint64(m.total_successes),
		TotalFailures: uint64(m.total_failures), TotalIgnored: uint64(m.total_ignored), TotalSlow: uint64(m.total_slow),
		RejectedOpen: uint64(m.rejected_open), RejectedTrialFull: uint64(m.rejected_trial_full),
		RejectedForcedOpen: uint64(m.rejected_forced_open), StaleDropped: uint64(m.stale_dropped),
		Transitions: uint64(m.transitions), Opened: uint64(m.opened), EventsDropped: uint64(m.events_dropped),
	}
}

// PollEvents returns the pending transitions, oldest first. The breaker keeps up to 256;
// newer ones are dropped when the queue is full (Metrics().EventsDropped).
func (b *CircuitBreaker) PollEvents() []Transition {
	ptr := b.h.acquire()
	defer b.h.release()
	return pollEvents(ptr)
}

func pollEvents(ptr *C.bw_breaker) []Transition {
	var out []Transition
	var buf [32]C.bw_breaker_event
	for {
		var e C.bw_error
		var n C.size_t
		if err := check(C.bw_breaker_poll_events(ptr, &buf[0], C.size_t(len(buf)), &n, &e), &e); err != nil {
			panic(err)
		}
		for _, ev := range buf[:int(n)] {
			reason := fmt.Sprintf("reason(%d)", uint32(ev.reason))
			if n := C.bw_transition_reason_name(ev.reason); n != nil {
				reason = C.GoString(n)
			}
			out = append(out, Transition{
				From: BreakerState(ev.from), To: BreakerState(ev.to), Reason: reason,
				Generation: uint64(ev.generation), At: nanosToDuration(uint64(ev.at_ns)),
			})
		}
		if int(n) < len(buf) {
			return out
		}
	}
}

func (b *CircuitBreaker) manual(f func(*C.bw_breaker, *C.bw_error) C.bw_status) {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	if err := check(f(ptr, &e), &e); err != nil {
		panic(err)
	}
	b.kick()
}

// Reset closes the breaker (from any state) with fresh counts.
func (b *CircuitBreaker) Reset() {
	b.manual(func(p *C.bw_breaker, e *C.bw_error) C.bw_status { return C.bw_breaker_reset(p, e) })
}

// ForceOpen rejects every call (ErrForcedOpen) until Reset.
func (b *CircuitBreaker) ForceOpen() {
	b.manual(func(p *C.bw_breaker, e *C.bw_error) C.bw_status { return C.bw_breaker_force_open(p, e) })
}

// Disable admits and counts every call, never tripping, until Reset.
func (b *CircuitBreaker) Disable() {
	b.manual(func(p *C.bw_breaker, e *C.bw_error) C.bw_status { return C.bw_breaker_disable(p, e) })
}

// TransitionToOpen opens the breaker now, as a trip would (timed: a half-open trial
// follows the open duration); the transition's reason is the library's "manual open"
// one. A no-op when already open; from ForceOpen or Disable it leaves them.
func (b *CircuitBreaker) TransitionToOpen() {
	b.manual(func(p *C.bw_breaker, e *C.bw_error) C.bw_status { return C.bw_breaker_transition_to_open(p, e) })
}

// TransitionToHalfOpen starts a half-open trial now. A no-op when already half-open.
func (b *CircuitBreaker) TransitionToHalfOpen() {
	b.manual(func(p *C.bw_breaker, e *C.bw_error) C.bw_status { return C.bw_breaker_transition_to_half_open(p, e) })
}

// RemainingOpen returns, while the breaker is open, the time left before it may admit
// a trial (0 once that time has come) and true; in every other state (forced open
// included) 0 and false. Side-effect free: it applies no transition and counts nothing
// (failsafe-go's RemainingDelay).
func (b *CircuitBreaker) RemainingOpen() (time.Duration, bool) {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	var open C.bool
	var ns C.uint64_t
	if err := check(C.bw_breaker_remaining_open_ns(ptr, &open, &ns, &e), &e); err != nil {
		panic(err)
	}
	return nanosToDuration(uint64(ns)), bool(open)
}

func freeBreaker(p *C.bw_breaker) { C.bw_breaker_free(p) }

// Close releases the handle once no call uses it; later calls panic. Other handles on
// the same registry breaker stay valid. Idempotent; always returns nil.
func (b *CircuitBreaker) Close() error {
	if b.watch != nil {
		b.watch.stop()
	}
	b.h.close(freeBreaker)
	return nil
}

// Registry holds named breakers: the same name gives handles on the same breaker.
// Safe for concurrent use.
type Registry struct {
	h handle[*C.bw_registry]
}

func freeRegistry(p *C.bw_registry) { C.bw_registry_free(p) }

// NewRegistry returns an empty registry. Close it when done (a finalizer closes it
// otherwise); breakers it gave stay valid.
func NewRegistry() *Registry {
	var e C.bw_error
	var p *C.bw_registry
	if err := check(C.bw_registry_new(&p, &e), &e); err != nil {
		panic(err)
	}
	r := &Registry{h: handle[*C.bw_registry]{ptr: p, what: "Registry"}}
	runtime.SetFinalizer(r, func(r *Registry) { _ = r.Close() })
	return r
}

// CircuitBreaker returns a new handle on the breaker named name, built on first use
// with settings (the zero value: the existing breaker, or the defaults) and the
// options. Settings that differ from the registered breaker's gives ErrInvalidConfig.
func (r *Registry) CircuitBreaker(name string, settings BreakerSettings, opts ...BreakerOption) (*CircuitBreaker, error) {
	text, err := settingsText(settings)
	if err != nil {
		return nil, err
	}
	return r.CircuitBreakerJSON(name, text, opts...)
}

// CircuitBreakerJSON is CircuitBreaker with JSON text in the C ABI's form (empty: the
// existing breaker, or the defaults).
func (r *Registry) CircuitBreakerJSON(name string, text string, opts ...BreakerOption) (*CircuitBreaker, error) {
	o := options(opts)
	if o.callEvents {
		return nil, &Error{Status: StatusInvalidArgument,
			Message: "WithOnCall and WithCallEvents need a breaker of its own (NewCircuitBreaker), not a registry breaker"}
	}
	reg := r.h.acquire()
	defer r.h.release()
	var clock *C.bw_clock
	if o.clock != nil {
		c, release := o.clock.cClock()
		defer release()
		clock = c
	}
	var e C.bw_error
	var p *C.bw_breaker
	nameP, nameN := cString(name)
	textP, textN := cString(text)
	if err := check(C.bw_registry_breaker(reg, nameP, nameN, textP, textN, clock, &p, &e), &e); err != nil {
		return nil, err
	}
	runtime.KeepAlive(name)
	runtime.KeepAlive(text)
	return newBreaker(p, o), nil
}

// Close releases the registry; later calls panic. Idempotent; always returns nil.
func (r *Registry) Close() error {
	r.h.close(freeRegistry)
	return nil
}
