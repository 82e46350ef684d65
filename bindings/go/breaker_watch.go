package breakwater

import (
	"sync"
	"sync/atomic"
	"time"
)

// watchFallback is how often the watcher polls without being woken (transitions that
// are applied lazily by another handle on a registry breaker are found this way).
const watchFallback = 50 * time.Millisecond

// watcher delivers a breaker's transitions to a WithOnStateChange function, and its
// call events to a WithOnCall function, on its own
// goroutine: woken by the binding's calls that may cause a transition (kick), and by a
// ticker.
type watcher struct {
	wake       chan struct{}
	done       chan struct{}
	stopped    chan struct{}
	once       sync.Once
	inCallback atomic.Bool
}

// onState and onCall may each be nil (not both).
func startWatcher(b *CircuitBreaker, onState func(name string, t Transition), onCall func(CallEvent)) *watcher {
	w := &watcher{wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	name := b.Name()
	h := b.h // not b: a forgotten breaker is still finalized (and its watcher stopped)
	go func() {
		defer close(w.stopped)
		tick := time.NewTicker(watchFallback)
		defer tick.Stop()
		for {
			select {
			case <-w.wake:
			case <-tick.C:
			case <-w.done:
				return
			}
			ptr, ok := h.tryAcquire()
			if !ok {
				return
			}
			var events []Transition
			if onState != nil {
				events = pollEvents(ptr)
			}
			var calls []CallEvent
			if onCall != nil {
				calls = pollCallEvents(ptr)
			}
			h.release()
			w.inCallback.Store(true)
			for _, t := range events {
				onState(name, t)
			}
			for _, c := range calls {
				onCall(c)
			}
			w.inCallback.Store(false)
		}
	}()
	return w
}

// kick wakes the watcher, if any, without blocking.
func (b *CircuitBreaker) kick() {
	if w := b.watch; w != nil {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// stop ends the goroutine after the delivery in progress (not waiting when called from
// the callback itself). Transitions not yet delivered are dropped.
func (w *watcher) stop() {
	w.once.Do(func() { close(w.done) })
	if !w.inCallback.Load() {
		<-w.stopped
	}
}
