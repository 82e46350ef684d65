// Package breakwater is the Go binding of breakwater, a synchronous, thread-based
// resilience kit (circuit breaker, retry, deadlines, bulkheads, rate limiting) written in
// Rust, through its C ABI.
//
// The module is self-contained: the C header (breakwater.h) is inside it, and the
// library is linked statically through pkg-config (package breakwater-static), so a
// binary runs anywhere, with no libbreakwater.so beside it. Install the C library once
// (from a checkout: `make install PREFIX=$HOME/.local`) and let pkg-config find it
// (`export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig`); a missing library stops the
// build at once with pkg-config's one-line "Package breakwater-static was not found".
// Guarded Go code always runs in Go:
// the binding uses the library's callback-free protocols, never C-to-Go callbacks.
//
// Errors are *Error values that match the sentinel errors of this package with
// errors.Is (ErrCircuitOpen, ErrRateLimited, ...). Programmer errors (a negative
// duration, a handle used after Close) panic, as in the standard library.
package breakwater

/*
#cgo pkg-config: breakwater-static

// For every C function this package calls (a function must be called to be listed):
// the library keeps no Go pointer after the call (noescape: Go may keep the error
// object and out-parameters on the stack) and never calls back into Go (nocallback).
#cgo noescape bw_clock_new
#cgo nocallback bw_clock_new
#cgo noescape bw_clock_now_ns
#cgo nocallback bw_clock_now_ns
#cgo noescape bw_clock_advance_ns
#cgo nocallback bw_clock_advance_ns
#cgo nocallback bw_clock_free
#cgo noescape bw_cancel_new
#cgo nocallback bw_cancel_new
#cgo noescape bw_cancel_cancel
#cgo nocallback bw_cancel_cancel
#cgo noescape bw_cancel_is_cancelled
#cgo nocallback bw_cancel_is_cancelled
#cgo nocallback bw_cancel_free
#cgo nocallback bw_status_name
#cgo nocallback bw_version
#cgo nocallback bw_abi_version
#cgo nocallback bw_policy_name
#cgo nocallback bw_reason_name
#cgo nocallback bw_state_name
#cgo nocallback bw_transition_reason_name
#cgo nocallback bw_rejection_message
#cgo nocallback bw_breaker_config_defaults_json
#cgo nocallback bw_breaker_config_schema_json
#cgo nocallback bw_retry_config_defaults_json
#cgo nocallback bw_retry_config_schema_json
#cgo nocallback bw_bulkhead_config_defaults_json
#cgo nocallback bw_bulkhead_config_schema_json
#cgo nocallback bw_limiter_config_defaults_json
#cgo nocallback bw_limiter_config_schema_json
#cgo nocallback bw_pool_config_defaults_json
#cgo nocallback bw_pool_config_schema_json
#cgo nocallback bw_time_limiter_config_defaults_json
#cgo nocallback bw_time_limiter_config_schema_json

#include "breakwater.h"
*/
import "C"

import "fmt"

func init() {
	if got := uint32(C.bw_abi_version()); got != uint32(C.BW_ABI_VERSION) {
		panic(fmt.Sprintf("breakwater: the loaded library has ABI version %d, this binding was built for %d; rebuild the library (cargo build --release)",
			got, uint32(C.BW_ABI_VERSION)))
	}
}
