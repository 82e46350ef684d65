package gotests

// The C calls of the scenario runner (scenarios_test.go), made directly through cgo
// (cgo cannot be used in a _test.go file): the lowest stable layer, so that the runner
// does not depend on the Go binding's API while it changes. Names of states, reasons
// and statuses come from the library (bw_state_name, bw_reason_name, bw_status_name).

/*
#cgo pkg-config: breakwater-static
#include <stdlib.h>
#include <string.h>
#include "breakwater.h"

static void scen_stats_init(void *p, size_t size) { memset(p, 0, size); *(size_t *)p = size; }
*/
import "C"

import (
	"unsafe"
)

// cResult is what a C call returned: its status and the error object's fields.
type cResult struct {
	status        int
	reason        string
	hasRetryAfter bool
	retryAfterNs  uint64
	message       string
}

func (r cResult) ok() bool { return r.status == C.BW_OK }

func (r cResult) stale() bool { return r.status == C.BW_STALE }

func (r cResult) rejected() bool { return r.status == C.BW_REJECTED }

func (r cResult) statusName() string { return cName(C.bw_status_name(C.bw_status(r.status))) }

func cName(p *C.char) string {
	if p == nil {
		return "(unknown)"
	}
	return C.GoString(p)
}

func result(status C.bw_status, e *C.bw_error) cResult {
	return cResult{
		status:        int(status),
		reason:        cName(C.bw_reason_name(e.reason)),
		hasRetryAfter: bool(e.has_retry_after),
		retryAfterNs:  uint64(e.retry_after_ns),
		message:       C.GoString(&e.message[0]),
	}
}

func stateName(code uint32) string { return cName(C.bw_state_name(C.uint32_t(code))) }

type cClock struct{ p *C.bw_clock }

func newManualClock() (cClock, cResult) {
	var e C.bw_error
	var c *C.bw_clock
	s := C.bw_clock_manual_new(&c, &e)
	return cClock{c}, result(s, &e)
}

func (c cClock) advanceNs(ns uint64) cResult {
	var e C.bw_error
	return result(C.bw_clock_advance_ns(c.p, C.uint64_t(ns), &e), &e)
}

func (c cClock) free() { C.bw_clock_free(c.p) }

// newJSON calls bw_<policy>_new_json; the handle is returned as a pointer to free with
// freeHandle.
func newJSON(policy, json string, clock cClock) (unsafe.Pointer, cResult) {
	text := C.CString(json)
	defer C.free(unsafe.Pointer(text))
	n := C.size_t(len(json))
	var e C.bw_error
	var s C.bw_status
	var h unsafe.Pointer
	switch policy {
	case "breaker":
		var b *C.bw_breaker
		s = C.bw_breaker_new_json(text, n, clock.p, &b, &e)
		h = unsafe.Pointer(b)
	case "retry":
		var r *C.bw_retry
		s = C.bw_retry_new_json(text, n, clock.p, &r, &e)
		h = unsafe.Pointer(r)
	case "bulkhead":
		var b *C.bw_bulkhead
		s = C.bw_bulkhead_new_json(text, n, clock.p, &b, &e)
		h = unsafe.Pointer(b)
	case "limiter":
		var l *C.bw_limiter
		s = C.bw_limiter_new_json(text, n, clock.p, &l, &e)
		h = unsafe.Pointer(l)
	default:
		return nil, cResult{status: C.BW_INVALID_ARGUMENT, message: "unknown policy " + policy}
	}
	return h, result(s, &e)
}

func freeHandle(policy string, h unsafe.Pointer) {
	switch policy {
	case "breaker":
		C.bw_breaker_free((*C.bw_breaker)(h))
	case "retry":
		C.bw_retry_free((*C.bw_retry)(h))
	case "bulkhead":
		C.bw_bulkhead_free((*C.bw_bulkhead)(h))
	case "limiter":
		C.bw_limiter_free((*C.bw_limiter)(h))
	}
}

// cPermit is a breaker permit (plain data).
type cPermit struct{ p C.bw_permit }

func breakerTryAcquire(h unsafe.Pointer) (cPermit, cResult) {
	var e C.bw_error
	var p C.bw_permit
	s := C.bw_breaker_try_acquire((*C.bw_breaker)(h), &p, &e)
	return cPermit{p}, result(s, &e)
}

// Outcome codes by the scenarios' names.
var outcomeCodes = map[string]uint32{
	"success": C.BW_OUTCOME_SUCCESS,
	"failure": C.BW_OUTCOME_FAILURE,
	"ignored": C.BW_OUTCOME_IGNORED,
}

func breakerRecord(h unsafe.Pointer, p cPermit, outcome uint32) cResult {
	var e C.bw_error
	return result(C.bw_breaker_record((*C.bw_breaker)(h), p.p, C.uint32_t(outcome), &e), &e)
}

func breakerManual(h unsafe.Pointer, op string) cResult {
	var e C.bw_error
	var s C.bw_status
	b := (*C.bw_breaker)(h)
	switch op {
	case "reset":
		s = C.bw_breaker_reset(b, &e)
	case "force_open":
		s = C.bw_breaker_force_open(b, &e)
	case "disable":
		s = C.bw_breaker_disable(b, &e)
	}
	return result(s, &e)
}

func breakerState(h unsafe.Pointer) (uint32, cResult) {
	var e C.bw_error
	var st C.uint32_t
	s := C.bw_breaker_state((*C.bw_breaker)(h), &st, &e)
	return uint32(st), result(s, &e)
}

// A metric: a count, or (isRate) a rate that is negative when none is computed.
type metricValue struct {
	count  uint64
	rate   float64
	isRate bool
}

func breakerMetrics(h unsafe.Pointer) (map[string]metricValue, cResult) {
	var e C.bw_error
	var s C.bw_breaker_stats
	C.scen_stats_init(unsafe.Pointer(&s), C.size_t(unsafe.Sizeof(s)))
	st := C.bw_breaker_metrics((*C.bw_breaker)(h), &s, &e)
	c := func(v C.uint64_t) metricValue { return metricValue{count: uint64(v)} }
	r := func(v C.double) metricValue { return metricValue{rate: float64(v), isRate: true} }
	return map[string]metricValue{
		"generation": c(s.generation), "requests": c(s.requests), "successes": c(s.successes),
		"failures": c(s.failures), "ignored": c(s.ignored), "slow": c(s.slow),
		"consecutive_successes": c(s.consecutive_successes),
		"consecutive_failures":  c(s.consecutive_failures),
		"window_calls":          c(s.window_calls), "window_failures": c(s.window_failures),
		"failure_rate": r(s.failure_rate), "slow_call_rate": r(s.slow_call_rate),
		"total_requests": c(s.total_requests), "total_successes": c(s.total_successes),
		"total_failures": c(s.total_failures), "total_ignored": c(s.total_ignored),
		"total_slow": c(s.total_slow), "rejected_open": c(s.rejected_open),
		"rejected_trial_full":  c(s.rejected_trial_full),
		"rejected_forced_open": c(s.rejected_forced_open),
		"stale_dropped":        c(s.stale_dropped), "transitions": c(s.transitions),
		"opened": c(s.opened),
	}, result(st, &e)
}

func retryDelaysNs(h unsafe.Pointer) ([]uint64, cResult) {
	var e C.bw_error
	var buf [64]C.uint64_t
	var n C.size_t
	s := C.bw_retry_delays_ns((*C.bw_retry)(h), &buf[0], 64, &n, &e)
	out := make([]uint64, 0, int(n))
	for i := 0; i < int(n); i++ {
		out = append(out, uint64(buf[i]))
	}
	return out, result(s, &e)
}

func bulkheadTryAcquire(h unsafe.Pointer) cResult {
	var e C.bw_error
	return result(C.bw_bulkhead_try_acquire((*C.bw_bulkhead)(h), &e), &e)
}

func bulkheadRelease(h unsafe.Pointer) cResult {
	var e C.bw_error
	return result(C.bw_bulkhead_release((*C.bw_bulkhead)(h), &e), &e)
}

func bulkheadMetrics(h unsafe.Pointer) (map[string]metricValue, cResult) {
	var e C.bw_error
	var s C.bw_bulkhead_stats
	C.scen_stats_init(unsafe.Pointer(&s), C.size_t(unsafe.Sizeof(s)))
	st := C.bw_bulkhead_metrics((*C.bw_bulkhead)(h), &s, &e)
	c := func(v C.uint64_t) metricValue { return metricValue{count: uint64(v)} }
	return map[string]metricValue{
		"max": c(s.max), "available": c(s.available), "in_use": c(s.in_use),
		"waiting": c(s.waiting), "rejected": c(s.rejected), "peak": c(s.peak),
		"acquired": c(s.acquired),
	}, result(st, &e)
}

func limiterTryAcquire(h unsafe.Pointer, n uint32) cResult {
	var e C.bw_error
	return result(C.bw_limiter_try_acquire((*C.bw_limiter)(h), C.uint32_t(n), nil, &e), &e)
}

func limiterMetrics(h unsafe.Pointer) (map[string]metricValue, cResult) {
	var e C.bw_error
	var s C.bw_limiter_stats
	C.scen_stats_init(unsafe.Pointer(&s), C.size_t(unsafe.Sizeof(s)))
	st := C.bw_limiter_metrics((*C.bw_limiter)(h), &s, &e)
	c := func(v C.uint64_t) metricValue { return metricValue{count: uint64(v)} }
	return map[string]metricValue{
		"permitted": c(s.permitted), "rejected": c(s.rejected), "waited": c(s.waited),
		"available": c(s.available), "burst": c(s.burst),
	}, result(st, &e)
}
