package breakwater

// #include "breakwater.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Status is a C status code (bw_status). The values are fixed and never reused.
type Status int32

// The status codes.
const (
	StatusOK              Status = C.BW_OK
	StatusRejected        Status = C.BW_REJECTED
	StatusTimedOut        Status = C.BW_TIMED_OUT
	StatusFailed          Status = C.BW_FAILED
	StatusInvalidArgument Status = C.BW_INVALID_ARGUMENT
	StatusInvalidConfig   Status = C.BW_INVALID_CONFIG
	StatusPanic           Status = C.BW_PANIC
	StatusStale           Status = C.BW_STALE
	StatusCancelled       Status = C.BW_CANCELLED
	StatusShutdown        Status = C.BW_SHUTDOWN
	StatusBufferTooSmall  Status = C.BW_BUFFER_TOO_SMALL
)

// String returns the C name of the status ("BW_REJECTED"), or "BW_UNKNOWN".
func (s Status) String() string {
	return C.GoString(C.bw_status_name(C.bw_status(s)))
}

// Policy says which policy produced an error (bw_error.policy).
type Policy uint32

// The policies.
const (
	PolicyNone           Policy = C.BW_POLICY_NONE
	PolicyCircuitBreaker Policy = C.BW_POLICY_CIRCUIT_BREAKER
	PolicyRetry          Policy = C.BW_POLICY_RETRY
	PolicyDeadline       Policy = C.BW_POLICY_DEADLINE
	PolicyTimeLimiter    Policy = C.BW_POLICY_TIME_LIMITER
	PolicyBulkhead       Policy = C.BW_POLICY_BULKHEAD
	PolicyThreadPool     Policy = C.BW_POLICY_THREAD_POOL
	PolicyRateLimiter    Policy = C.BW_POLICY_RATE_LIMITER
	PolicyFallback       Policy = C.BW_POLICY_FALLBACK
	PolicyCache          Policy = C.BW_POLICY_CACHE
	PolicyPipeline       Policy = C.BW_POLICY_PIPELINE
	PolicyHTTP           Policy = C.BW_POLICY_HTTP
)

// String returns the policy's name as the library gives it (bw_policy_name: "circuit
// breaker"), or "policy(N)" for a code the library does not know.
func (p Policy) String() string {
	if n := C.bw_policy_name(C.uint32_t(p)); n != nil {
		return C.GoString(n)
	}
	return fmt.Sprintf("policy(%d)", uint32(p))
}

// Reason says why a policy rejected a call (bw_error.reason).
type Reason uint32

// The rejection reasons.
const (
	ReasonNone             Reason = C.BW_REASON_NONE
	ReasonOpen             Reason = C.BW_REASON_OPEN
	ReasonTrialFull        Reason = C.BW_REASON_TRIAL_FULL
	ReasonForcedOpen       Reason = C.BW_REASON_FORCED_OPEN
	ReasonBulkheadFull     Reason = C.BW_REASON_BULKHEAD_FULL
	ReasonQueueFull        Reason = C.BW_REASON_QUEUE_FULL
	ReasonShutdown         Reason = C.BW_REASON_SHUTDOWN
	ReasonRateLimited      Reason = C.BW_REASON_RATE_LIMITED
	ReasonBudgetExhausted  Reason = C.BW_REASON_BUDGET_EXHAUSTED
	ReasonDeadlineExceeded Reason = C.BW_REASON_DEADLINE_EXCEEDED
	ReasonCancelled        Reason = C.BW_REASON_CANCELLED
)

// String returns the reason's name as the library gives it (bw_reason_name: "half-open
// trial full"), or "reason(N)" for a code the library does not know.
func (r Reason) String() string {
	if n := C.bw_reason_name(C.uint32_t(r)); n != nil {
		return C.GoString(n)
	}
	return fmt.Sprintf("reason(%d)", uint32(r))
}

// rejectionMessage is the library's message of a rejection (bw_rejection_message).
func rejectionMessage(p Policy, r Reason) string {
	if m := C.bw_rejection_message(C.uint32_t(p), C.uint32_t(r)); m != nil {
		return C.GoString(m)
	}
	return fmt.Sprintf("%v: %v", p, r) // codes this library does not know
}

// ConfigDefaultsJSON returns the library's default configuration of a policy as JSON
// (bw_<policy>_config_defaults_json: every key its JSON accepts), or "" for a policy
// that takes no configuration.
func ConfigDefaultsJSON(p Policy) string {
	var s *C.char
	switch p {
	case PolicyCircuitBreaker:
		s = C.bw_breaker_config_defaults_json()
	case PolicyRetry:
		s = C.bw_retry_config_defaults_json()
	case PolicyBulkhead:
		s = C.bw_bulkhead_config_defaults_json()
	case PolicyRateLimiter:
		s = C.bw_limiter_config_defaults_json()
	case PolicyThreadPool:
		s = C.bw_pool_config_defaults_json()
	case PolicyTimeLimiter:
		s = C.bw_time_limiter_config_defaults_json()
	}
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// ConfigSchemaJSON returns the JSON Schema of a policy's configuration
// (bw_<policy>_config_schema_json), or "" for a policy that takes no configuration.
func ConfigSchemaJSON(p Policy) string {
	var s *C.char
	switch p {
	case PolicyCircuitBreaker:
		s = C.bw_breaker_config_schema_json()
	case PolicyRetry:
		s = C.bw_retry_config_schema_json()
	case PolicyBulkhead:
		s = C.bw_bulkhead_config_schema_json()
	case PolicyRateLimiter:
		s = C.bw_limiter_config_schema_json()
	case PolicyThreadPool:
		s = C.bw_pool_config_schema_json()
	case PolicyTimeLimiter:
		s = C.bw_time_limiter_config_schema_json()
	}
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// Sentinel errors, for errors.Is. An *Error matches the sentinel of its status and the
// one of its rejection reason; see (*Error).Is for the families.
var (
	ErrRejected         = errors.New("breakwater: rejected")
	ErrCircuitOpen      = errors.New("breakwater: circuit breaker open")
	ErrTrialFull        = errors.New("breakwater: circuit breaker half-open trial full")
	ErrForcedOpen       = errors.New("breakwater: circuit breaker forced open")
	ErrBulkheadFull     = errors.New("breakwater: bulkhead full")
	ErrQueueFull        = errors.New("breakwater: queue full")
	ErrRateLimited      = errors.New("breakwater: rate limited")
	ErrBudgetExhausted  = errors.New("breakwater: retry budget exhausted")
	ErrDeadlineExceeded = errors.New("breakwater: deadline exceeded")
	ErrTimedOut         = errors.New("breakwater: timed out")
	ErrCancelled        = errors.New("breakwater: cancelled")
	ErrShutdown         = errors.New("breakwater: shut down")
	ErrFailed           = errors.New("breakwater: failed")
	ErrInvalidArgument  = errors.New("breakwater: invalid argument")
	ErrInvalidConfig    = errors.New("breakwater: invalid configuration")
	ErrPanic            = errors.New("breakwater: panic in the library")
	ErrStale            = errors.New("breakwater: stale outcome")
)

var statusSentinels = map[Status]error{
	StatusRejected:        ErrRejected,
	StatusTimedOut:        ErrTimedOut,
	StatusFailed:          ErrFailed,
	StatusInvalidArgument: ErrInvalidArgument,
	StatusInvalidConfig:   ErrInvalidConfig,
	StatusPanic:           ErrPanic,
	StatusStale:           ErrStale,
	StatusCancelled:       ErrCancelled,
	StatusShutdown:        ErrShutdown,
}

var reasonSentinels = map[Reason]error{
	ReasonOpen:             ErrCircuitOpen,
	ReasonTrialFull:        ErrTrialFull,
	ReasonForcedOpen:       ErrForcedOpen,
	ReasonBulkheadFull:     ErrBulkheadFull,
	ReasonQueueFull:        ErrQueueFull,
	ReasonShutdown:         ErrShutdown,
	ReasonRateLimited:      ErrRateLimited,
	ReasonBudgetExhausted:  ErrBudgetExhausted,
	ReasonDeadlineExceeded: ErrDeadlineExceeded,
	ReasonCancelled:        ErrCancelled,
}

// Error is an error reported by the library: a copy of its bw_error.
type Error struct {
	// Status is the status the call returned.
	Status Status
	// Policy is the policy involved (PolicyNone if none).
	Policy Policy
	// Reason is why a policy rejected the call (ReasonNone otherwise).
	Reason Reason
	// RetryAfter is when the policy may admit again; valid when HasRetryAfter.
	RetryAfter time.Duration
	// HasRetryAfter reports whether RetryAfter holds a hint.
	HasRetryAfter bool
	// Message is the library's message.
	Message string
}

// Error returns the library's message.
func (e *Error) Error() string {
	return "breakwater: " + e.Message
}

// Is matches the sentinel of the status and of the reason, and these families:
// ErrRejected matches every rejection (any reason); ErrCircuitOpen matches every
// circuit breaker rejection (open, trial full, forced open); ErrTimedOut and
// context.DeadlineExceeded match time-outs and ErrDeadlineExceeded; context.Canceled
// matches ErrCancelled.
func (e *Error) Is(target error) bool {
	if target == nil {
		return false
	}
	if s, ok := statusSentinels[e.Status]; ok && s == target {
		return true
	}
	if r, ok := reasonSentinels[e.Reason]; ok && r == target {
		return true
	}
	switch target {
	case ErrRejected:
		return e.Reason != ReasonNone
	case ErrCircuitOpen:
		return e.Reason == ReasonOpen || e.Reason == ReasonTrialFull || e.Reason == ReasonForcedOpen
	case ErrTimedOut, context.DeadlineExceeded:
		return e.Timeout()
	case context.Canceled:
		return e.Status == StatusCancelled || e.Reason == ReasonCancelled
	}
	return false
}

// Timeout reports whether the error is a time-out (as net.Error does).
func (e *Error) Timeout() bool {
	return e.Status == StatusTimedOut || e.Reason == ReasonDeadlineExceeded
}

// The circuit breaker's refusals without a retry-after hint (Allow, Execute): shared,
// allocation-free values (like the sentinels, they must not be modified).
var (
	errOpen       = breakerRefusal(ReasonOpen)
	errTrialFull  = breakerRefusal(ReasonTrialFull)
	errForcedOpen = breakerRefusal(ReasonForcedOpen)
)

// breakerRefusal is the *Error of a circuit breaker's refusal for reason r, without a
// retry-after hint.
func breakerRefusal(r Reason) *Error {
	return &Error{Status: StatusRejected, Policy: PolicyCircuitBreaker, Reason: r,
		Message: rejectionMessage(PolicyCircuitBreaker, r)}
}

// check turns a status and its error object into nil or an *Error.
func check(status C.bw_status, e *C.bw_error) error {
	if status == C.BW_OK {
		return nil
	}
	return newError(e)
}

func newError(e *C.bw_error) *Error {
	err := &Error{
		Status:        Status(e.status),
		Policy:        Policy(e.policy),
		Reason:        Reason(e.reason),
		HasRetryAfter: bool(e.has_retry_after),
		Message:       messageString(&e.message),
	}
	if err.HasRetryAfter {
		err.RetryAfter = nanosToDuration(uint64(e.retry_after_ns))
	}
	return err
}

// messageString copies the NUL-terminated message out of the error object (in Go, so
// that the error object does not escape to the heap through a cgo call).
func messageString(m *[C.BW_ERROR_MESSAGE_LEN]C.char) string {
	n := 0
	for n < len(m) && m[n] != 0 {
		n++
	}
	b := make([]byte, n)
	for i := 0; i < n; i++ {
		b[i] = byte(m[i])
	}
	return string(b)
}

// nanosToDuration converts, saturating at the largest Duration.
func nanosToDuration(ns uint64) time.Duration {
	if ns > uint64(1<<63-1) {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(ns)
}
