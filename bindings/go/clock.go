package breakwater

// #include "breakwater.h"
import "C"

import (
	"fmt"
	"runtime"
	"time"
)

// Clock is a time source for policies: a *MonotonicClock or a *ManualClock. Policies
// keep their own reference to the clock, so it may be closed once they are built.
type Clock interface {
	// Now returns the clock's time: since creation for a manual clock, since an
	// unspecified origin for the monotonic clock.
	Now() time.Duration
	// Close releases the clock handle. Idempotent.
	Close() error
	// cClock gives policies the C handle (read-locked; call the release function after).
	cClock() (*C.bw_clock, func())
}

type clockHandle struct {
	h handle[*C.bw_clock]
}

func (c *clockHandle) init(kind uint32, what string) {
	var e C.bw_error
	var p *C.bw_clock
	if err := check(C.bw_clock_new(C.uint32_t(kind), &p, &e), &e); err != nil {
		panic(err) // only on a bug in the library
	}
	c.h = handle[*C.bw_clock]{ptr: p, what: what}
}

func freeClock(p *C.bw_clock) { C.bw_clock_free(p) }

// nowNanos is bw_clock_now_ns on a raw handle.
func nowNanos(p *C.bw_clock) (uint64, error) {
	var e C.bw_error
	var out C.uint64_t
	if err := check(C.bw_clock_now_ns(p, &out, &e), &e); err != nil {
		return 0, err
	}
	return uint64(out), nil
}

// advanceNanos is bw_clock_advance_ns on a raw handle.
func advanceNanos(p *C.bw_clock, ns uint64) error {
	var e C.bw_error
	return check(C.bw_clock_advance_ns(p, C.uint64_t(ns), &e), &e)
}

func (c *clockHandle) nanos() uint64 {
	p := c.h.acquire()
	defer c.h.release()
	ns, err := nowNanos(p)
	if err != nil {
		panic(err) // the handle is valid: only on a bug in the library
	}
	return ns
}

func (c *clockHandle) cClock() (*C.bw_clock, func()) {
	return c.h.acquire(), c.h.release
}

// MonotonicClock is the machine's monotonic clock (what policies use by default).
type MonotonicClock struct {
	clockHandle
}

// NewMonotonicClock returns a handle on the monotonic clock. Close it when done (a
// finalizer closes it otherwise).
func NewMonotonicClock() *MonotonicClock {
	c := &MonotonicClock{}
	c.init(uint32(C.BW_CLOCK_MONOTONIC), "MonotonicClock")
	runtime.SetFinalizer(c, func(c *MonotonicClock) { _ = c.Close() })
	return c
}

// Now returns the monotonic time since an unspecified origin.
func (c *MonotonicClock) Now() time.Duration { return nanosToDuration(c.nanos()) }

// Close releases the handle; later calls panic. Idempotent; always returns nil.
func (c *MonotonicClock) Close() error {
	c.h.close(freeClock)
	return nil
}

// ManualClock is a clock that moves only when advanced: on it every timed wait of a
// policy ends only when the clock is advanced past its deadline, so tests never sleep.
// Safe for concurrent use.
type ManualClock struct {
	clockHandle
}

// NewManualClock returns a manual clock at 0. Close it when done (a finalizer closes it
// otherwise).
func NewManualClock() *ManualClock {
	c := &ManualClock{}
	c.init(uint32(C.BW_CLOCK_MANUAL), "ManualClock")
	runtime.SetFinalizer(c, func(c *ManualClock) { _ = c.Close() })
	return c
}

// Now returns the time since the clock was created (the sum of the advances).
func (c *ManualClock) Now() time.Duration { return nanosToDuration(c.nanos()) }

// NowNanos returns the time since the clock was created in nanoseconds (it saturates at
// 2^64-1, beyond time.Duration).
func (c *ManualClock) NowNanos() uint64 { return c.nanos() }

// Advance moves the clock forward by d and wakes every timed wait whose deadline has
// come. It panics if d is negative or the clock is closed.
func (c *ManualClock) Advance(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("breakwater: ManualClock.Advance(%v): negative duration", d))
	}
	p := c.h.acquire()
	defer c.h.release()
	if err := advanceNanos(p, uint64(d)); err != nil {
		panic(err) // the handle is valid: only on a bug in the library
	}
}

// Close releases the handle; later calls panic. Policies built with the clock keep
// their own reference (and its time). Idempotent; always returns nil.
func (c *ManualClock) Close() error {
	c.h.close(freeClock)
	return nil
}

var (
	_ Clock = (*ManualClock)(nil)
	_ Clock = (*MonotonicClock)(nil)
)
