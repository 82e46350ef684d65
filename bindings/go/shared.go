package breakwater

/*
#include "breakwater.h"

#cgo noescape bw_shared_breaker_new_json
#cgo nocallback bw_shared_breaker_new_json
#cgo nocallback bw_shared_breaker_free
#cgo noescape bw_shared_breaker_try_acquire
#cgo nocallback bw_shared_breaker_try_acquire
#cgo noescape bw_shared_breaker_record
#cgo nocallback bw_shared_breaker_record
#cgo noescape bw_shared_breaker_state
#cgo nocallback bw_shared_breaker_state
#cgo noescape bw_shared_breaker_health
#cgo nocallback bw_shared_breaker_health
#cgo noescape bw_shared_breaker_metrics
#cgo nocallback bw_shared_breaker_metrics
#cgo noescape bw_shared_breaker_flush
#cgo nocallback bw_shared_breaker_flush
#cgo noescape bw_shared_breaker_reset
#cgo nocallback bw_shared_breaker_reset
#cgo noescape bw_shared_breaker_force_open
#cgo nocallback bw_shared_breaker_force_open
#cgo nocallback bw_shared_breaker_config_defaults_json
#cgo nocallback bw_shared_breaker_config_schema_json
#cgo noescape bw_shared_rate_limiter_new_json
#cgo nocallback bw_shared_rate_limiter_new_json
#cgo nocallback bw_shared_rate_limiter_free
#cgo noescape bw_shared_rate_limiter_try_acquire
#cgo nocallback bw_shared_rate_limiter_try_acquire
#cgo noescape bw_shared_rate_limiter_acquire_timeout
#cgo nocallback bw_shared_rate_limiter_acquire_timeout
#cgo noescape bw_shared_rate_limiter_health
#cgo nocallback bw_shared_rate_limiter_health
#cgo noescape bw_shared_rate_limiter_metrics
#cgo nocallback bw_shared_rate_limiter_metrics
#cgo nocallback bw_shared_rate_limiter_config_defaults_json
#cgo nocallback bw_shared_rate_limiter_config_schema_json
#cgo noescape bw_registry_shared_breaker
#cgo nocallback bw_registry_shared_breaker
#cgo noescape bw_registry_shared_rate_limiter
#cgo nocallback bw_registry_shared_rate_limiter
#cgo nocallback bw_redis_health_name
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// RedisOptions says where the Redis server of a shared policy is. Zero fields are the
// library's defaults (SharedBreakerDefaultsJSON).
type RedisOptions struct {
	// URL is redis://[user:password@]host[:port][/db], redis+unix:// or unix://.
	URL string
	// KeyPrefix prefixes the policy's keys: processes using the same prefix and name
	// share the policy.
	KeyPrefix string
	// OpTimeout bounds every Redis operation.
	OpTimeout time.Duration
	// FlushInterval is how long outcomes may wait before they are sent (breakers).
	FlushInterval time.Duration
	// PollInterval is the polling backstop and reconnection pace.
	PollInterval time.Duration
}

func (o RedisOptions) into(m map[string]any) {
	if o.URL != "" {
		m["redis_url"] = o.URL
	}
	if o.KeyPrefix != "" {
		m["key_prefix"] = o.KeyPrefix
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"op_timeout_ms", o.OpTimeout}, {"flush_interval_ms", o.FlushInterval}, {"poll_interval_ms", o.PollInterval}} {
		checkDuration("RedisOptions."+d.key, d.v)
		if d.v != 0 {
			m[d.key] = breakerMs(d.v)
		}
	}
}

// RedisHealth says whether a shared policy works on the shared state (RedisHealthUp) or on
// its local fallback because Redis is unreachable (RedisHealthDegraded).
type RedisHealth uint32

// The health of a shared policy's link to Redis.
const (
	RedisHealthUp       RedisHealth = C.BW_REDIS_HEALTHY
	RedisHealthDegraded RedisHealth = C.BW_REDIS_DEGRADED
)

// String returns the library's name: "UP" or "DEGRADED".
func (h RedisHealth) String() string {
	if s := C.bw_redis_health_name(C.uint32_t(h)); s != nil {
		return C.GoString(s)
	}
	return "unknown"
}

// SharedBreakerDefaultsJSON returns the library's default shared breaker configuration
// (every JSON key), or "" when the library was built without the redis feature.
func SharedBreakerDefaultsJSON() string {
	if s := C.bw_shared_breaker_config_defaults_json(); s != nil {
		return C.GoString(s)
	}
	return ""
}

// SharedBreakerSchemaJSON returns the JSON Schema of the shared breaker configuration
// ("" without the redis feature).
func SharedBreakerSchemaJSON() string {
	if s := C.bw_shared_breaker_config_schema_json(); s != nil {
		return C.GoString(s)
	}
	return ""
}

// SharedRateLimiterDefaultsJSON returns the library's default shared rate limiter
// configuration ("" without the redis feature).
func SharedRateLimiterDefaultsJSON() string {
	if s := C.bw_shared_rate_limiter_config_defaults_json(); s != nil {
		return C.GoString(s)
	}
	return ""
}

// SharedRateLimiterSchemaJSON returns the JSON Schema of the shared rate limiter
// configuration ("" without the redis feature).
func SharedRateLimiterSchemaJSON() string {
	if s := C.bw_shared_rate_limiter_config_schema_json(); s != nil {
		return C.GoString(s)
	}
	return ""
}

// SharedBreakerSettings configures a SharedCircuitBreaker: the breaker settings (as for
// NewCircuitBreaker; the rate policy needs WindowTime) and where Redis is.
type SharedBreakerSettings struct {
	Breaker BreakerSettings
	Redis   RedisOptions
}

// JSON returns the settings in the JSON form of bw_shared_breaker_new_json (only the
// fields set).
func (s SharedBreakerSettings) JSON() (string, error) {
	text, err := s.Breaker.JSON()
	if err != nil {
		return "", err
	}
	m := map[string]any{}
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return "", err
	}
	s.Redis.into(m)
	out, err := json.Marshal(m)
	return string(out), err
}

// SharedCircuitBreaker is a circuit breaker whose state every process naming it shares
// through Redis: one process's trip stops the others' calls within the notification
// delay. Closed-state admissions never wait on Redis; while Redis is unreachable the
// breaker works on local state (Health is RedisHealthDegraded). Safe for concurrent use;
// Close it when done (a finalizer closes it otherwise).
type SharedCircuitBreaker struct {
	h handle[*C.bw_shared_breaker]
}

func newShared(p *C.bw_shared_breaker) *SharedCircuitBreaker {
	b := &SharedCircuitBreaker{h: handle[*C.bw_shared_breaker]{ptr: p, what: "SharedCircuitBreaker"}}
	runtime.SetFinalizer(b, func(b *SharedCircuitBreaker) { _ = b.Close() })
	return b
}

// NewSharedCircuitBreaker builds a shared breaker. A refused setting or a malformed
// Redis URL gives an error matching ErrInvalidConfig (naming the JSON key); an
// unreachable server is not an error (the breaker starts degraded).
func NewSharedCircuitBreaker(s SharedBreakerSettings) (*SharedCircuitBreaker, error) {
	text, err := s.JSON()
	if err != nil {
		return nil, err
	}
	return NewSharedCircuitBreakerJSON(text)
}

// NewSharedCircuitBreakerJSON builds a shared breaker from JSON text in the C ABI's
// form (bw_shared_breaker_new_json). Errors as NewSharedCircuitBreaker.
func NewSharedCircuitBreakerJSON(text string) (*SharedCircuitBreaker, error) {
	var e C.bw_error
	var p *C.bw_shared_breaker
	ptr, n := cString(text)
	if err := check(C.bw_shared_breaker_new_json(ptr, n, &p, &e), &e); err != nil {
		return nil, err
	}
	runtime.KeepAlive(text)
	return newShared(p), nil
}

// SharedPermit is the permission to run one call (from Allow): report its outcome once.
// Reporting returns an error matching ErrStale when the shared generation ended since.
type SharedPermit struct {
	b        *SharedCircuitBreaker
	raw      C.bw_shared_permit
	reported atomic.Bool
}

// Local reports whether the local fallback admitted the call (Redis was unreachable).
func (p *SharedPermit) Local() bool { return bool(p.raw.local) }

// Generation returns the generation the call was admitted in.
func (p *SharedPermit) Generation() uint64 { return uint64(p.raw.generation) }

func (p *SharedPermit) record(o Outcome) error {
	if p.reported.Swap(true) {
		panic("breakwater: a SharedPermit's outcome was already reported")
	}
	return p.b.record(p.raw, o)
}

// Success reports a success.
func (p *SharedPermit) Success() error { return p.record(OutcomeSuccess) }

// Failure reports a failure.
func (p *SharedPermit) Failure() error { return p.record(OutcomeFailure) }

// Ignore reports neither (gives a half-open admission back).
func (p *SharedPermit) Ignore() error { return p.record(OutcomeIgnored) }

func (b *SharedCircuitBreaker) record(raw C.bw_shared_permit, o Outcome) error {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	return check(C.bw_shared_breaker_record(ptr, raw, C.uint32_t(o), &e), &e)
}

func (b *SharedCircuitBreaker) admit() (C.bw_shared_permit, error) {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	var raw C.bw_shared_permit
	err := check(C.bw_shared_breaker_try_acquire(ptr, &raw, &e), &e)
	return raw, err
}

// Allow asks to run one call: a SharedPermit, or an error matching ErrCircuitOpen (and
// ErrTrialFull or ErrForcedOpen) with RetryAfter.
func (b *SharedCircuitBreaker) Allow() (*SharedPermit, error) {
	raw, err := b.admit()
	if err != nil {
		return nil, err
	}
	return &SharedPermit{b: b, raw: raw}, nil
}

// Execute runs fn through the breaker and returns its error unchanged (a non-nil error
// is a failure), or a rejection without running it. A panic in fn is recorded as a
// failure and keeps unwinding.
func (b *SharedCircuitBreaker) Execute(fn func() error) error {
	raw, err := b.admit()
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = b.record(raw, OutcomeFailure)
		}
	}()
	err = fn()
	done = true
	outcome := OutcomeSuccess
	if err != nil {
		outcome = OutcomeFailure
	}
	_ = b.record(raw, outcome) // a stale outcome is not the caller's error
	return err
}

// State returns the state this process acts on.
func (b *SharedCircuitBreaker) State() BreakerState {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	var s C.uint32_t
	if err := check(C.bw_shared_breaker_state(ptr, &s, &e), &e); err != nil {
		panic(err)
	}
	return BreakerState(s)
}

// Health returns RedisHealthUp while Redis answers, RedisHealthDegraded while the breaker works
// on local state.
func (b *SharedCircuitBreaker) Health() RedisHealth {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	var s C.uint32_t
	if err := check(C.bw_shared_breaker_health(ptr, &s, &e), &e); err != nil {
		panic(err)
	}
	return RedisHealth(s)
}

// SharedBreakerMetrics is a snapshot of a shared breaker: the state it acts on, its
// health, the shared generation, the fleet's counts (Fleet*, as of the last reply from
// Redis), this process's counts, and its traffic with Redis (Redis*).
type SharedBreakerMetrics struct {
	State                                                   BreakerState
	Health                                                  RedisHealth
	Generation                                              uint64
	FleetSuccesses, FleetFailures                           uint64
	FleetConsecutiveFailures, FleetStaleDropped             uint64
	TotalRequests, TotalSuccesses, TotalFailures            uint64
	TotalIgnored                                            uint64
	RejectedOpen, RejectedTrialFull, RejectedForcedOpen     uint64
	StaleDropped, Transitions, Opened                       uint64
	RedisCommands, RedisErrors, RedisDegraded, RedisResyncs uint64
	RedisNotifications, RedisPolls, RedisBatches            uint64
	RedisOutcomesLost, RedisScriptReloads                   uint64
}

// Metrics returns a snapshot of the breaker.
func (b *SharedCircuitBreaker) Metrics() SharedBreakerMetrics {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	var m C.bw_shared_breaker_stats
	m.size = C.size_t(unsafe.Sizeof(m))
	if err := check(C.bw_shared_breaker_metrics(ptr, &m, &e), &e); err != nil {
		panic(err)
	}
	return SharedBreakerMetrics{
		State: BreakerState(m.state), Health: RedisHealth(m.health), Generation: uint64(m.generation),
		FleetSuccesses: uint64(m.fleet_successes), FleetFailures: uint64(m.fleet_failures),
		FleetConsecutiveFailures: uint64(m.fleet_consecutive_failures), FleetStaleDropped: uint64(m.fleet_stale_dropped),
		TotalRequests: uint64(m.total_requests), TotalSuccesses: uint64(m.total_successes),
		TotalFailures: uint64(m.total_failures), TotalIgnored: uint64(m.total_ignored),
		RejectedOpen: uint64(m.rejected_open), RejectedTrialFull: uint64(m.rejected_trial_full),
		RejectedForcedOpen: uint64(m.rejected_forced_open), StaleDropped: uint64(m.stale_dropped),
		Transitions: uint64(m.transitions), Opened: uint64(m.opened),
		RedisCommands: uint64(m.redis_commands), RedisErrors: uint64(m.redis_errors),
		RedisDegraded: uint64(m.redis_degraded), RedisResyncs: uint64(m.redis_resyncs),
		RedisNotifications: uint64(m.redis_notifications), RedisPolls: uint64(m.redis_polls),
		RedisBatches: uint64(m.redis_batches), RedisOutcomesLost: uint64(m.redis_outcomes_lost),
		RedisScriptReloads: uint64(m.redis_script_reloads),
	}
}

func (b *SharedCircuitBreaker) op(f func(*C.bw_shared_breaker, *C.bw_error) C.bw_status) error {
	ptr := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	return check(f(ptr, &e), &e)
}

// Flush sends this process's waiting outcomes now and reads the shared state back; an
// error matching ErrFailed when Redis does not answer in time.
func (b *SharedCircuitBreaker) Flush() error {
	return b.op(func(p *C.bw_shared_breaker, e *C.bw_error) C.bw_status { return C.bw_shared_breaker_flush(p, e) })
}

// Reset closes the breaker for the whole fleet.
func (b *SharedCircuitBreaker) Reset() error {
	return b.op(func(p *C.bw_shared_breaker, e *C.bw_error) C.bw_status { return C.bw_shared_breaker_reset(p, e) })
}

// ForceOpen forces the breaker open for the whole fleet, until Reset.
func (b *SharedCircuitBreaker) ForceOpen() error {
	return b.op(func(p *C.bw_shared_breaker, e *C.bw_error) C.bw_status {
		return C.bw_shared_breaker_force_open(p, e)
	})
}

// Close releases the handle, after any call in progress; later calls panic. Idempotent;
// always returns nil.
func (b *SharedCircuitBreaker) Close() error {
	b.h.close(func(p *C.bw_shared_breaker) { C.bw_shared_breaker_free(p) })
	return nil
}

// SharedRateLimiterSettings configures a SharedRateLimiter: the fleet-wide quota
// (Permits per Period with a Burst; zero fields are the library's defaults), the Lease
// (permits taken from Redis at once; 0 or 1: no overshoot) and where Redis is.
type SharedRateLimiterSettings struct {
	Name    string
	Permits uint32
	Period  time.Duration
	Burst   uint32
	Lease   uint32
	Redis   RedisOptions
}

// JSON returns the settings in the JSON form of bw_shared_rate_limiter_new_json.
func (s SharedRateLimiterSettings) JSON() string {
	checkDuration("SharedRateLimiterSettings.Period", s.Period)
	m := map[string]any{}
	if s.Name != "" {
		m["name"] = s.Name
	}
	if s.Permits != 0 {
		m["permits"] = s.Permits
	}
	if s.Period != 0 {
		m["period_ms"] = breakerMs(s.Period)
	}
	if s.Burst != 0 {
		m["burst"] = s.Burst
	}
	if s.Lease != 0 {
		m["lease"] = s.Lease
	}
	s.Redis.into(m)
	if len(m) == 0 {
		return ""
	}
	return string(jsonConfig(m))
}

// SharedRateLimiter holds a quota for the whole fleet (GCRA evaluated in Redis). Safe
// for concurrent use; Close it when done.
type SharedRateLimiter struct {
	h handle[*C.bw_shared_rate_limiter]
}

func newSharedLimiter(p *C.bw_shared_rate_limiter) *SharedRateLimiter {
	l := &SharedRateLimiter{h: handle[*C.bw_shared_rate_limiter]{ptr: p, what: "SharedRateLimiter"}}
	runtime.SetFinalizer(l, func(l *SharedRateLimiter) { _ = l.Close() })
	return l
}

// NewSharedRateLimiter builds a shared rate limiter; errors as NewSharedCircuitBreaker.
func NewSharedRateLimiter(s SharedRateLimiterSettings) (*SharedRateLimiter, error) {
	text := s.JSON()
	var e C.bw_error
	var p *C.bw_shared_rate_limiter
	ptr, n := cString(text)
	if err := check(C.bw_shared_rate_limiter_new_json(ptr, n, &p, &e), &e); err != nil {
		return nil, err
	}
	runtime.KeepAlive(text)
	return newSharedLimiter(p), nil
}

// TryAcquire takes one permit if the fleet has one free now, else an error matching
// ErrRateLimited with RetryAfter.
func (l *SharedRateLimiter) TryAcquire() error {
	p := l.h.acquire()
	defer l.h.release()
	var e C.bw_error
	return check(C.bw_shared_rate_limiter_try_acquire(p, nil, &e), &e)
}

// Allow takes one permit if one is free now.
func (l *SharedRateLimiter) Allow() bool { return l.TryAcquire() == nil }

// Wait takes one permit, waiting for it while ctx allows (fails at once with
// ErrRateLimited when none will be free before ctx's deadline).
func (l *SharedRateLimiter) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tok, stop := ctxCancel(ctx)
	defer stop()
	p := l.h.acquire()
	defer l.h.release()
	var e C.bw_error
	var err error
	withCancel(tok, func(c *C.bw_cancel) {
		err = check(C.bw_shared_rate_limiter_acquire_timeout(p, C.uint64_t(timeoutFor(ctx)), c, &e), &e)
	})
	if err != nil && ctx.Err() != nil {
		return ctxError(ctx, err)
	}
	return err
}

// Health returns RedisHealthUp or RedisHealthDegraded.
func (l *SharedRateLimiter) Health() RedisHealth {
	p := l.h.acquire()
	defer l.h.release()
	var e C.bw_error
	var s C.uint32_t
	if err := check(C.bw_shared_rate_limiter_health(p, &s, &e), &e); err != nil {
		panic(err)
	}
	return RedisHealth(s)
}

// SharedRateLimiterMetrics is a snapshot of a shared rate limiter.
type SharedRateLimiterMetrics struct {
	Health                              RedisHealth
	Permitted, Rejected, OvershootBound uint64
	RedisCommands, RedisErrors          uint64
	RedisDegraded, RedisResyncs         uint64
}

// Metrics returns a snapshot of the limiter.
func (l *SharedRateLimiter) Metrics() SharedRateLimiterMetrics {
	p := l.h.acquire()
	defer l.h.release()
	var e C.bw_error
	var m C.bw_shared_limiter_stats
	m.size = C.size_t(unsafe.Sizeof(m))
	if err := check(C.bw_shared_rate_limiter_metrics(p, &m, &e), &e); err != nil {
		panic(err)
	}
	return SharedRateLimiterMetrics{Health: RedisHealth(m.health), Permitted: uint64(m.permitted),
		Rejected: uint64(m.rejected), OvershootBound: uint64(m.overshoot_bound),
		RedisCommands: uint64(m.redis_commands), RedisErrors: uint64(m.redis_errors),
		RedisDegraded: uint64(m.redis_degraded), RedisResyncs: uint64(m.redis_resyncs)}
}

// Close releases the handle; later calls panic. Idempotent; always returns nil.
func (l *SharedRateLimiter) Close() error {
	l.h.close(func(p *C.bw_shared_rate_limiter) { C.bw_shared_rate_limiter_free(p) })
	return nil
}

// SharedCircuitBreaker returns a new handle on the registry's shared breaker named
// name, built on first use with settings (the zero value: the existing one, or the
// defaults); it is in the registry's exports. Settings that differ from the registered
// breaker's give ErrInvalidConfig.
func (r *Registry) SharedCircuitBreaker(name string, settings SharedBreakerSettings) (*SharedCircuitBreaker, error) {
	text := ""
	if settings != (SharedBreakerSettings{}) {
		t, err := settings.JSON()
		if err != nil {
			return nil, err
		}
		text = t
	}
	reg := r.h.acquire()
	defer r.h.release()
	var e C.bw_error
	var p *C.bw_shared_breaker
	nameP, nameN := cString(name)
	textP, textN := cString(text)
	if err := check(C.bw_registry_shared_breaker(reg, nameP, nameN, textP, textN, &p, &e), &e); err != nil {
		return nil, err
	}
	runtime.KeepAlive(name)
	runtime.KeepAlive(text)
	return newShared(p), nil
}

// SharedRateLimiter returns a new handle on the registry's shared rate limiter named
// name, as SharedCircuitBreaker.
func (r *Registry) SharedRateLimiter(name string, settings SharedRateLimiterSettings) (*SharedRateLimiter, error) {
	text := settings.JSON()
	reg := r.h.acquire()
	defer r.h.release()
	var e C.bw_error
	var p *C.bw_shared_rate_limiter
	nameP, nameN := cString(name)
	textP, textN := cString(text)
	if err := check(C.bw_registry_shared_rate_limiter(reg, nameP, nameN, textP, textN, &p, &e), &e); err != nil {
		return nil, err
	}
	runtime.KeepAlive(name)
	runtime.KeepAlive(text)
	return newSharedLimiter(p), nil
}
