package breakwater

/*
#include "breakwater.h"

#cgo noescape bw_bulkhead_new_json
#cgo nocallback bw_bulkhead_new_json
#cgo noescape bw_bulkhead_try_acquire
#cgo nocallback bw_bulkhead_try_acquire
#cgo noescape bw_bulkhead_acquire
#cgo nocallback bw_bulkhead_acquire
#cgo noescape bw_bulkhead_release
#cgo nocallback bw_bulkhead_release
#cgo noescape bw_bulkhead_metrics
#cgo nocallback bw_bulkhead_metrics
#cgo nocallback bw_bulkhead_free
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// BulkheadConfig is the configuration of a Bulkhead. Start from DefaultBulkheadConfig:
// every field is sent as it is.
type BulkheadConfig struct {
	Name          string
	MaxConcurrent uint32        // permits (at least 1)
	MaxWait       time.Duration // how long Execute waits for a permit; 0 fails fast
	Clock         Clock         // nil: the monotonic clock
}

// DefaultBulkheadConfig returns 25 permits, no waiting.
func DefaultBulkheadConfig() BulkheadConfig {
	return BulkheadConfig{MaxConcurrent: 25}
}

type bulkheadJSON struct {
	Name          string  `json:"name"`
	MaxConcurrent uint32  `json:"max_concurrent"`
	MaxWaitMs     float64 `json:"max_wait_ms"`
}

// BulkheadMetrics is a snapshot of a bulkhead's counters.
type BulkheadMetrics struct {
	Max, Available, InUse, Waiting uint64
	Rejected, Peak, Acquired       uint64
}

// Bulkhead lets at most MaxConcurrent calls run at once; callers beyond wait (first come,
// first served). Safe for concurrent use.
type Bulkhead struct {
	h       handle[*C.bw_bulkhead]
	maxWait time.Duration
}

// NewBulkhead builds a bulkhead. The error matches ErrInvalidConfig for a refused
// configuration; a negative MaxWait panics.
func NewBulkhead(cfg BulkheadConfig) (*Bulkhead, error) {
	checkDuration("BulkheadConfig.MaxWait", cfg.MaxWait)
	text := jsonConfig(bulkheadJSON{Name: cfg.Name, MaxConcurrent: cfg.MaxConcurrent, MaxWaitMs: ms(cfg.MaxWait)})
	ptr, n := cBytes(text)
	var e C.bw_error
	var p *C.bw_bulkhead
	var err error
	withClock(cfg.Clock, func(c *C.bw_clock) {
		err = check(C.bw_bulkhead_new_json(ptr, n, c, &p, &e), &e)
	})
	runtime.KeepAlive(text)
	if err != nil {
		return nil, err
	}
	b := &Bulkhead{h: handle[*C.bw_bulkhead]{ptr: p, what: "Bulkhead"}, maxWait: cfg.MaxWait}
	runtime.SetFinalizer(b, func(b *Bulkhead) { _ = b.Close() })
	return b, nil
}

// TryAcquire takes a permit if one is free now (give it back with Release).
func (b *Bulkhead) TryAcquire() bool {
	p := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	return C.bw_bulkhead_try_acquire(p, &e) == C.BW_OK
}

func (b *Bulkhead) acquire(timeoutNs uint64, tok *CancelToken) error {
	p := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	var err error
	withCancel(tok, func(c *C.bw_cancel) {
		err = check(C.bw_bulkhead_acquire(p, C.uint64_t(timeoutNs), c, &e), &e)
	})
	return err
}

// Acquire takes a permit, waiting until one is free or ctx is done (an error matching
// ctx.Err() and ErrCancelled or ErrBulkheadFull). Give it back with Release.
func (b *Bulkhead) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tok, stop := ctxCancel(ctx)
	defer stop()
	err := b.acquire(timeoutFor(ctx), tok)
	if err != nil && ctx.Err() != nil {
		return ctxError(ctx, err)
	}
	return err
}

// Release gives back a permit taken with TryAcquire or Acquire. It returns an error
// matching ErrInvalidArgument, changing nothing, when none is held.
func (b *Bulkhead) Release() error {
	p := b.h.acquire()
	defer b.h.release()
	var e C.bw_error
	return check(C.bw_bulkhead_release(p, &e), &e)
}

func (b *Bulkhead) releaseHeld() {
	if err := b.Release(); err != nil {
		panic(err) // a permit taken by this package is always held here
	}
}

// Execute runs fn holding a permit, waiting up to MaxWait for one (an error matching
// ErrBulkheadFull otherwise). The permit is released however fn ends; a panic in fn is
// re-panicked after the release. fn's error is returned as it is.
func (b *Bulkhead) Execute(fn func() error) error {
	if err := b.acquire(uint64(b.maxWait), nil); err != nil {
		return err
	}
	defer b.releaseHeld()
	return fn()
}

// ExecuteContext runs fn(ctx) holding a permit, waiting for one until ctx is done (its
// deadline replaces MaxWait; a context that is never done waits without limit).
func (b *Bulkhead) ExecuteContext(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := b.Acquire(ctx); err != nil {
		return err
	}
	defer b.releaseHeld()
	return fn(ctx)
}

// Metrics returns a snapshot of the counters.
func (b *Bulkhead) Metrics() BulkheadMetrics {
	p := b.h.acquire()
	defer b.h.release()
	var m C.bw_bulkhead_stats
	m.size = C.size_t(unsafe.Sizeof(m))
	var e C.bw_error
	if err := check(C.bw_bulkhead_metrics(p, &m, &e), &e); err != nil {
		panic(err)
	}
	return BulkheadMetrics{Max: uint64(m.max), Available: uint64(m.available), InUse: uint64(m.in_use),
		Waiting: uint64(m.waiting), Rejected: uint64(m.rejected), Peak: uint64(m.peak), Acquired: uint64(m.acquired)}
}

// Close releases the bulkhead once no call is in progress (a blocked Acquire keeps it
// open until it returns); later calls panic. Permits still held are dropped with it.
// Idempotent; always returns nil.
func (b *Bulkhead) Close() error {
	b.h.close(func(p *C.bw_bulkhead) { C.bw_bulkhead_free(p) })
	return nil
}
