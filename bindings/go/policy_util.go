package breakwater

// #include "breakwater.h"
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// noLimit is the "wait without limit" timeout of the blocking C calls.
const noLimit = math.MaxUint64

// ms converts a duration to the `*_ms` JSON form of the C configurations.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// checkDuration panics on a negative duration (a programmer error, as in the standard
// library).
func checkDuration(what string, d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("breakwater: %s: negative duration %v", what, d))
	}
}

// jsonConfig marshals a configuration for a bw_*_new_json function.
func jsonConfig(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of numbers and strings: cannot fail
	}
	return b
}

// cBytes is the (pointer, length) pair of a byte slice for C (the slice must stay alive
// during the call).
func cBytes(b []byte) (*C.char, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// withClock runs f with the C handle of clock (nil: NULL, the monotonic clock).
func withClock(clock Clock, f func(*C.bw_clock)) {
	if clock == nil {
		f(nil)
		return
	}
	p, release := clock.cClock()
	defer release()
	f(p)
}

// timeoutFor is the timeout of a blocking C call bounded by ctx's deadline (noLimit
// without one; 0 when it has passed).
func timeoutFor(ctx context.Context) uint64 {
	d, ok := ctx.Deadline()
	if !ok {
		return noLimit
	}
	left := time.Until(d)
	if left <= 0 {
		return 0
	}
	return uint64(left)
}

// ctxCancel is a CancelToken cancelled when ctx is done (nil for a context that is
// never done); stop releases it.
func ctxCancel(ctx context.Context) (tok *CancelToken, stop func()) {
	if ctx.Done() == nil {
		return nil, func() {}
	}
	tok = NewCancelToken()
	unregister := tok.CancelOnDone(ctx)
	return tok, func() {
		unregister()
		_ = tok.Close()
	}
}

// withCancel runs f with the C handle of tok (nil: NULL).
func withCancel(tok *CancelToken, f func(*C.bw_cancel)) {
	if tok == nil {
		f(nil)
		return
	}
	p, release := tok.cCancel()
	defer release()
	f(p)
}

// ctxError maps an error of a blocking call to the context's error when the context
// ended it (so that errors.Is(err, context.DeadlineExceeded) holds).
func ctxError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
