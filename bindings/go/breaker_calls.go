package breakwater

/*
#cgo noescape bw_breaker_poll_call_events
#cgo nocallback bw_breaker_poll_call_events
#cgo nocallback bw_call_kind_name

#include "breakwater.h"
*/
import "C"

import (
	"fmt"
	"time"
)

// CallKind is what a breaker did with one call (CallEvent.Kind).
type CallKind uint32

// The kinds of call events (the library's BW_CALL_* codes).
const (
	// CallSuccess: the call was recorded as a success.
	CallSuccess CallKind = C.BW_CALL_SUCCESS
	// CallFailure: the call was recorded as a failure.
	CallFailure CallKind = C.BW_CALL_FAILURE
	// CallIgnored: the call was recorded as ignored.
	CallIgnored CallKind = C.BW_CALL_IGNORED
	// CallRejected: the breaker refused the call (CallEvent.Reason says why).
	CallRejected CallKind = C.BW_CALL_REJECTED
	// CallStale: an outcome for an older generation, dropped.
	CallStale CallKind = C.BW_CALL_STALE
)

// String returns the library's name of the kind (bw_call_kind_name): "success",
// "failure", "ignored", "rejected" or "stale".
func (k CallKind) String() string {
	if name := C.bw_call_kind_name(C.uint32_t(k)); name != nil {
		return C.GoString(name)
	}
	return fmt.Sprintf("call(%d)", uint32(k))
}

// CallEvent is one call seen by a breaker built with WithOnCall or WithCallEvents.
type CallEvent struct {
	Kind CallKind
	// Reason is why the call was refused (CallRejected only; ReasonNone otherwise).
	Reason Reason
	// Generation is the generation the call was admitted in (for a rejection: the
	// one that refused it).
	Generation uint64
	// Duration is the call's duration (given with Permit.Report, or measured on the
	// breaker's clock from admission); valid when HasDuration.
	Duration time.Duration
	// HasDuration is false for rejections.
	HasDuration bool
	// Slow reports whether the trip policy counts the call as slow.
	Slow bool
}

// WithOnCall delivers every call event of the breaker (successes, failures, ignored,
// rejected and stale calls, with their durations) to f, on a goroutine of the binding,
// one event at a time and in order, shortly after the call; f may call the breaker.
// The events are taken from the queue PollCallEvents reads, so do not use both. The
// breaker keeps up to 1024 undelivered events and drops newer ones when full. Close
// stops the goroutine (events not yet delivered are dropped). A breaker with call
// events reads its clock on every call to measure the duration; without this option
// (or WithCallEvents) it does not. Not available on Registry breakers
// (ErrInvalidArgument).
func WithOnCall(f func(e CallEvent)) BreakerOption {
	return func(o *breakerOptions) {
		o.onCall = f
		o.callEvents = f != nil || o.callEvents
	}
}

// WithCallEvents makes the breaker queue its call events for PollCallEvents (without
// a goroutine: see WithOnCall for delivery to a function).
func WithCallEvents() BreakerOption {
	return func(o *breakerOptions) { o.callEvents = true }
}

// PollCallEvents returns the pending call events, oldest first. It panics (a
// programmer error) on a breaker built without WithCallEvents or WithOnCall.
func (b *CircuitBreaker) PollCallEvents() []CallEvent {
	ptr := b.h.acquire()
	defer b.h.release()
	return pollCallEvents(ptr)
}

func pollCallEvents(ptr *C.bw_breaker) []CallEvent {
	var out []CallEvent
	var buf [32]C.bw_breaker_call_event
	for {
		var e C.bw_error
		var n C.size_t
		if err := check(C.bw_breaker_poll_call_events(ptr, &buf[0], C.size_t(len(buf)), &n, &e), &e); err != nil {
			panic(err)
		}
		for _, ev := range buf[:int(n)] {
			out = append(out, CallEvent{
				Kind: CallKind(ev.kind), Reason: Reason(ev.reason), Generation: uint64(ev.generation),
				Duration: nanosToDuration(uint64(ev.duration_ns)), HasDuration: bool(ev.has_duration),
				Slow: bool(ev.slow),
			})
		}
		if int(n) < len(buf) {
			return out
		}
	}
}
