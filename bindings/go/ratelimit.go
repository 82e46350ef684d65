package breakwater

/*
#include "breakwater.h"

#cgo noescape bw_limiter_new_json
#cgo nocallback bw_limiter_new_json
#cgo noescape bw_limiter_try_acquire
#cgo nocallback bw_limiter_try_acquire
#cgo noescape bw_limiter_acquire_timeout
#cgo nocallback bw_limiter_acquire_timeout
#cgo noescape bw_limiter_metrics
#cgo nocallback bw_limiter_metrics
#cgo nocallback bw_limiter_free
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// RateLimiterConfig is the configuration of a RateLimiter. Start from
// DefaultRateLimiterConfig: every field is sent as it is.
type RateLimiterConfig struct {
	Name    string
	Permits uint32        // permits per Period (at least 1)
	Period  time.Duration // not zero
	Burst   uint32        // permits a quiet caller may take at once; 0: Permits
	MaxWait time.Duration // not used by Allow/Wait; kept for symmetry with the C config
	Clock   Clock         // nil: the monotonic clock
}

// DefaultRateLimiterConfig returns 100 permits per second.
func DefaultRateLimiterConfig() RateLimiterConfig {
	return RateLimiterConfig{Name: "default", Permits: 100, Period: time.Second}
}

type limiterJSON struct {
	Name      string  `json:"name"`
	Permits   uint32  `json:"permits"`
	PeriodMs  float64 `json:"period_ms"`
	Burst     *uint32 `json:"burst,omitempty"`
	MaxWaitMs float64 `json:"max_wait_ms"`
}

// RateLimiterMetrics is a snapshot of a rate limiter's counters.
type RateLimiterMetrics struct {
	Permitted, Rejected, Waited uint64
	Available, Burst            uint64
	EmissionInterval            time.Duration
}

// RateLimiter grants Permits per Period with a Burst (GCRA). Safe for concurrent use.
type RateLimiter struct {
	h handle[*C.bw_limiter]
}

// NewRateLimiter builds a rate limiter. The error matches ErrInvalidConfig for a refused
// configuration; a negative duration panics.
func NewRateLimiter(cfg RateLimiterConfig) (*RateLimiter, error) {
	checkDuration("RateLimiterConfig.Period", cfg.Period)
	checkDuration("RateLimiterConfig.MaxWait", cfg.MaxWait)
	j := limiterJSON{Name: cfg.Name, Permits: cfg.Permits, PeriodMs: ms(cfg.Period), MaxWaitMs: ms(cfg.MaxWait)}
	if cfg.Burst != 0 {
		b := cfg.Burst
		j.Burst = &b
	}
	text := jsonConfig(j)
	ptr, n := cBytes(text)
	var e C.bw_error
	var p *C.bw_limiter
	var err error
	withClock(cfg.Clock, func(c *C.bw_clock) {
		err = check(C.bw_limiter_new_json(ptr, n, c, &p, &e), &e)
	})
	runtime.KeepAlive(text)
	if err != nil {
		return nil, err
	}
	l := &RateLimiter{h: handle[*C.bw_limiter]{ptr: p, what: "RateLimiter"}}
	runtime.SetFinalizer(l, func(l *RateLimiter) { _ = l.Close() })
	return l, nil
}

// Allow takes one permit if one is free now.
func (l *RateLimiter) Allow() bool {
	return l.TryAcquire(1) == nil
}

// TryAcquire takes n permits if they are all free now; otherwise it returns an error
// matching ErrRateLimited whose RetryAfter says when they will be (a request larger than
// the burst never fits: its RetryAfter is the largest duration).
func (l *RateLimiter) TryAcquire(n uint32) error {
	p := l.h.acquire()
	defer l.h.release()
	var e C.bw_error
	return check(C.bw_limiter_try_acquire(p, C.uint32_t(n), nil, &e), &e)
}

// Wait takes one permit, waiting for it while ctx allows: it fails at once (an error
// matching ErrRateLimited) when the permit will not be free before ctx's deadline, and
// returns an error matching ctx.Err() when ctx is done during the wait. On a manual
// clock the wait advances the clock.
func (l *RateLimiter) Wait(ctx context.Context) error {
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
		err = check(C.bw_limiter_acquire_timeout(p, C.uint64_t(timeoutFor(ctx)), c, &e), &e)
	})
	if err != nil && ctx.Err() != nil {
		return ctxError(ctx, err)
	}
	return err
}

// Metrics returns a snapshot of the counters.
func (l *RateLimiter) Metrics() RateLimiterMetrics {
	p := l.h.acquire()
	defer l.h.release()
	var m C.bw_limiter_stats
	m.size = C.size_t(unsafe.Sizeof(m))
	var e C.bw_error
	if err := check(C.bw_limiter_metrics(p, &m, &e), &e); err != nil {
		panic(err)
	}
	return RateLimiterMetrics{Permitted: uint64(m.permitted), Rejected: uint64(m.rejected),
		Waited: uint64(m.waited), Available: uint64(m.available), Burst: uint64(m.burst),
		EmissionInterval: nanosToDuration(uint64(m.emission_interval_ns))}
}

// Close releases the limiter, after any call in progress; later calls panic.
// Idempotent; always returns nil.
func (l *RateLimiter) Close() error {
	l.h.close(func(p *C.bw_limiter) { C.bw_limiter_free(p) })
	return nil
}
