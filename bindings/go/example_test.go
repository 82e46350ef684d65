package breakwater_test

import (
	"errors"
	"fmt"
	"time"

	breakwater "github.com/breakwater-rs/breakwater/bindings/go"
)

var errUnavailable = errors.New("unavailable")

// A breaker with typed settings guarding a function that returns a value.
func ExampleExecute() {
	clock := breakwater.NewManualClock()
	defer clock.Close()
	cb, err := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{
		Name: "prices", ConsecutiveFailures: 2, OpenDuration: 10 * time.Second,
	}, breakwater.WithClock(clock))
	if err != nil {
		panic(err)
	}
	defer cb.Close()

	price, err := breakwater.Execute(cb, func() (int, error) { return 42, nil })
	fmt.Println(price, err)
	for i := 0; i < 2; i++ {
		_, err = breakwater.Execute(cb, func() (int, error) { return 0, errUnavailable })
	}
	_, err = breakwater.Execute(cb, func() (int, error) { return 42, nil })
	fmt.Println(cb.State(), errors.Is(err, breakwater.ErrCircuitOpen))
	// Output:
	// 42 <nil>
	// open true
}

// A classifier decides over the value and the error: here a negative value is a
// failure of the dependency and a cache miss is neither success nor failure.
func ExampleWithClassifier() {
	errMiss := errors.New("cache miss")
	cb, _ := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{ConsecutiveFailures: 3},
		breakwater.WithClassifier(func(v any, err error) breakwater.Outcome {
			switch {
			case errors.Is(err, errMiss):
				return breakwater.OutcomeIgnored
			case err != nil || v.(int) < 0:
				return breakwater.OutcomeFailure
			}
			return breakwater.OutcomeSuccess
		}))
	defer cb.Close()
	_, _ = breakwater.Execute(cb, func() (int, error) { return 1, nil })
	_, _ = breakwater.Execute(cb, func() (int, error) { return -1, nil })
	_, _ = breakwater.Execute(cb, func() (int, error) { return 0, errMiss })
	m := cb.Metrics()
	fmt.Println(m.TotalSuccesses, m.TotalFailures, m.TotalIgnored)
	// Output: 1 1 1
}

// Transitions are delivered to Go code on a goroutine of the binding.
func ExampleWithOnStateChange() {
	clock := breakwater.NewManualClock()
	defer clock.Close()
	seen := make(chan string, 8)
	cb, _ := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{Name: "db", ConsecutiveFailures: 1},
		breakwater.WithClock(clock),
		breakwater.WithOnStateChange(func(name string, t breakwater.Transition) {
			seen <- fmt.Sprintf("%s: %v -> %v (%s)", name, t.From, t.To, t.Reason)
		}))
	defer cb.Close()
	_ = cb.Execute(func() error { return errUnavailable })
	fmt.Println(<-seen)
	cb.Reset()
	fmt.Println(<-seen)
	// Output:
	// db: closed -> open (threshold reached)
	// db: open -> closed (reset)
}

// Every call, with its duration on the breaker's clock, reaches Go code on a goroutine
// of the binding.
func ExampleWithOnCall() {
	clock := breakwater.NewManualClock()
	defer clock.Close()
	seen := make(chan breakwater.CallEvent, 8)
	cb, _ := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{ConsecutiveFailures: 1},
		breakwater.WithClock(clock),
		breakwater.WithOnCall(func(e breakwater.CallEvent) { seen <- e }))
	defer cb.Close()
	_ = cb.Execute(func() error { clock.Advance(20 * time.Millisecond); return errUnavailable })
	_ = cb.Execute(func() error { return nil })
	for range 2 {
		e := <-seen
		if e.HasDuration {
			fmt.Println(e.Kind, e.Duration)
		} else {
			fmt.Println(e.Kind, e.Reason)
		}
	}
	// Output:
	// failure 20ms
	// rejected open
}

// Interval clears the closed state's counts, as gobreaker's Interval.
func ExampleBreakerSettings_interval() {
	clock := breakwater.NewManualClock()
	defer clock.Close()
	cb, _ := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{
		ConsecutiveFailures: 2, Interval: time.Minute,
	}, breakwater.WithClock(clock))
	defer cb.Close()
	_ = cb.Execute(func() error { return errUnavailable })
	clock.Advance(time.Minute) // the first failure is forgotten
	_ = cb.Execute(func() error { return errUnavailable })
	fmt.Println(cb.State())
	// Output: closed
}

// Manual transitions and the time left in the open state.
func ExampleCircuitBreaker_RemainingOpen() {
	clock := breakwater.NewManualClock()
	defer clock.Close()
	cb, _ := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{OpenDuration: 30 * time.Second},
		breakwater.WithClock(clock))
	defer cb.Close()
	cb.TransitionToOpen()
	clock.Advance(10 * time.Second)
	fmt.Println(cb.RemainingOpen())
	cb.TransitionToHalfOpen()
	d, open := cb.RemainingOpen()
	fmt.Println(cb.State(), d, open)
	// Output:
	// 20s true
	// half-open 0s false
}

// The effective configuration, read back from the library with its defaults filled in.
func ExampleCircuitBreaker_Config() {
	cb, err := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{Name: "search", FailureRate: 0.5})
	if err != nil {
		panic(err)
	}
	defer cb.Close()
	c := cb.Config()
	fmt.Println(c.Name, c.FailureRate, c.WindowCalls > 0, c.MinimumCalls > 0, c.OpenDuration > 0, c.ConsecutiveFailures)
	// Output: search 0.5 true true true 0
}

// A typed classifier for one call: an HTTP-like status decides.
func ExampleExecuteClassified() {
	cb, _ := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{ConsecutiveFailures: 1})
	defer cb.Close()
	status, err := breakwater.ExecuteClassified(cb, func() (int, error) { return 503, nil },
		func(status int, err error) breakwater.Outcome {
			if err != nil || status >= 500 {
				return breakwater.OutcomeFailure
			}
			return breakwater.OutcomeSuccess
		})
	fmt.Println(status, err, cb.State())
	// Output: 503 <nil> open
}
