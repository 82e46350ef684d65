package breakwater

// #include "breakwater.h"
import "C"

import (
	"context"
	"runtime"
)

// CancelToken is a cancellation flag for blocking calls: once cancelled (from any
// goroutine) they give up with an error matching ErrCancelled and context.Canceled.
// Once cancelled it stays cancelled. Safe for concurrent use.
type CancelToken struct {
	h handle[*C.bw_cancel]
}

// NewCancelToken returns an uncancelled token. Close it when done (a finalizer closes it
// otherwise).
func NewCancelToken() *CancelToken {
	var e C.bw_error
	var p *C.bw_cancel
	if err := check(C.bw_cancel_new(&p, &e), &e); err != nil {
		panic(err) // only on a bug in the library
	}
	t := &CancelToken{h: handle[*C.bw_cancel]{ptr: p, what: "CancelToken"}}
	runtime.SetFinalizer(t, func(t *CancelToken) { _ = t.Close() })
	return t
}

func cancelRaw(p *C.bw_cancel) error {
	var e C.bw_error
	return check(C.bw_cancel_cancel(p, &e), &e)
}

func cancelledRaw(p *C.bw_cancel) (bool, error) {
	var e C.bw_error
	var out C.bool
	if err := check(C.bw_cancel_is_cancelled(p, &out, &e), &e); err != nil {
		return false, err
	}
	return bool(out), nil
}

// Cancel cancels the token. Idempotent. It panics if the token is closed.
func (t *CancelToken) Cancel() {
	p := t.h.acquire()
	defer t.h.release()
	if err := cancelRaw(p); err != nil {
		panic(err) // the handle is valid: only on a bug in the library
	}
}

// Cancelled reports whether the token was cancelled. It panics if the token is closed.
func (t *CancelToken) Cancelled() bool {
	p := t.h.acquire()
	defer t.h.release()
	c, err := cancelledRaw(p)
	if err != nil {
		panic(err) // the handle is valid: only on a bug in the library
	}
	return c
}

// CancelOnDone cancels the token when ctx is done (on another goroutine, as
// context.AfterFunc). The returned stop function unregisters it and reports whether it
// stopped it before it ran. A token closed meanwhile is left alone.
func (t *CancelToken) CancelOnDone(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		if p, ok := t.h.tryAcquire(); ok {
			defer t.h.release()
			_ = cancelRaw(p)
		}
	})
}

// Close releases the token, after any call in progress; later calls panic. Idempotent;
// always returns nil.
func (t *CancelToken) Close() error {
	t.h.close(func(p *C.bw_cancel) { C.bw_cancel_free(p) })
	return nil
}

// cCancel gives blocking calls the C handle (read-locked; call the release function
// after).
func (t *CancelToken) cCancel() (*C.bw_cancel, func()) {
	return t.h.acquire(), t.h.release
}
