// Per-call overhead of the breakwater Go binding against sony/gobreaker v2: a guarded
// no-op in the closed state (success) and a rejection by an open breaker.
//
//	go test -bench . -benchtime 2s
package benches

import (
	"errors"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
	"github.com/sony/gobreaker/v2"
)

var errDown = errors.New("down")

func noop() error { return nil }

func breakwater(b *testing.B, open bool) *bw.CircuitBreaker {
	cb, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	if open {
		_ = cb.Execute(func() error { return errDown })
	}
	return cb
}

func gobreakerCB(open bool) *gobreaker.CircuitBreaker[struct{}] {
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Timeout:     time.Hour,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 },
	})
	if open {
		_, _ = cb.Execute(func() (struct{}, error) { return struct{}{}, errDown })
	}
	return cb
}

func BenchmarkBreakwaterSuccess(b *testing.B) {
	cb := breakwater(b, false)
	defer cb.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := cb.Execute(noop); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBreakwaterRejection(b *testing.B) {
	cb := breakwater(b, true)
	defer cb.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := cb.Execute(noop); err == nil {
			b.Fatal("admitted")
		}
	}
}

func BenchmarkGobreakerSuccess(b *testing.B) {
	cb := gobreakerCB(false)
	for i := 0; i < b.N; i++ {
		if _, err := cb.Execute(func() (struct{}, error) { return struct{}{}, nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGobreakerRejection(b *testing.B) {
	cb := gobreakerCB(true)
	for i := 0; i < b.N; i++ {
		if _, err := cb.Execute(func() (struct{}, error) { return struct{}{}, nil }); err == nil {
			b.Fatal("admitted")
		}
	}
}
