package breakwater

import (
	"fmt"
	"sync"
)

// handle owns one C handle (P is its pointer type, e.g. *C.bw_clock). Calls hold a read
// lock for their duration, so Close (write lock) waits for calls in progress and a
// handle is never freed under a call; after Close, calls panic.
type handle[P comparable] struct {
	mu   sync.RWMutex
	ptr  P
	what string
}

// acquire read-locks the handle and returns its pointer; release must follow. It
// panics after Close.
func (h *handle[P]) acquire() P {
	h.mu.RLock()
	var zero P
	if h.ptr == zero {
		h.mu.RUnlock()
		panic(fmt.Sprintf("breakwater: %s used after Close", h.what))
	}
	return h.ptr
}

// tryAcquire is acquire without the panic: ok is false after Close (no release then).
func (h *handle[P]) tryAcquire() (p P, ok bool) {
	h.mu.RLock()
	var zero P
	if h.ptr == zero {
		h.mu.RUnlock()
		return zero, false
	}
	return h.ptr, true
}

func (h *handle[P]) release() {
	h.mu.RUnlock()
}

// close frees the handle with free once no call uses it. Idempotent.
func (h *handle[P]) close(free func(P)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var zero P
	if h.ptr != zero {
		free(h.ptr)
		h.ptr = zero
	}
}

func (h *handle[P]) closed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var zero P
	return h.ptr == zero
}
