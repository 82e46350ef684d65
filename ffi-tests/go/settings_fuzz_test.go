package gotests

import (
	"strings"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

// knownKeys are the configuration keys the library names in its messages; a refused
// configuration must name one of them (as the user would write it in JSON).
var knownKeys = []string{
	"name", "consecutive_failures", "failures_in_window", "failure_rate", "slow_call_rate",
	"open_duration_ms", "open_duration_multiplier", "open_duration_cap_ms",
	"half_open_max_calls", "success_threshold", "half_open_max_wait_ms", "interval_ms",
}

// FuzzBreakerSettings builds breakers from arbitrary settings: the binding never
// panics, and every refusal is the library's message naming the key. `go test` runs the
// seeds below and the committed corpus (testdata/fuzz); `go test -fuzz
// FuzzBreakerSettings` (scripts/fuzz.sh go SECONDS) explores.
func FuzzBreakerSettings(f *testing.F) {
	f.Add("authors", 5, 0, int64(0), 0.0, 0.0, int64(0), 0, int64(0), 0, int64(60e9), 1.0, int64(0), 1, 0, int64(0), int64(0))
	f.Add("", 0, 3, int64(1e9), 0.0, 0.0, int64(0), 0, int64(0), 0, int64(0), 0.0, int64(0), 0, 0, int64(0), int64(10e9))
	f.Add("rate", 0, 0, int64(0), 0.5, 0.8, int64(2e9), 100, int64(0), 20, int64(30e9), 2.0, int64(300e9), 3, 0, int64(10e9), int64(0))
	f.Add("bad", -1, 0, int64(0), 1.5, -0.1, int64(-1), -3, int64(5e9), -1, int64(-5), -2.0, int64(1), -1, 9, int64(-1), int64(-1))
	f.Add(strings.Repeat("n", 300), 0, 0, int64(0), 0.0, 0.0, int64(0), 0, int64(0), 0, int64(0), 0.0, int64(0), 0, 0, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, name string, consecutive, inWindow int, failureWindow int64,
		failureRate, slowRate float64, slowDuration int64, windowCalls int, windowTime int64,
		minimumCalls int, open int64, multiplier float64, openCap int64, trial, successes int,
		maxWait, interval int64) {
		s := bw.BreakerSettings{
			Name:                   name,
			ConsecutiveFailures:    consecutive,
			FailuresInWindow:       inWindow,
			FailureWindow:          time.Duration(failureWindow),
			FailureRate:            failureRate,
			SlowCallRate:           slowRate,
			SlowDuration:           time.Duration(slowDuration),
			WindowCalls:            windowCalls,
			WindowTime:             time.Duration(windowTime),
			MinimumCalls:           minimumCalls,
			OpenDuration:           time.Duration(open),
			OpenDurationMultiplier: multiplier,
			OpenDurationCap:        time.Duration(openCap),
			HalfOpenMaxCalls:       trial,
			SuccessThreshold:       successes,
			HalfOpenMaxWait:        time.Duration(maxWait),
			Interval:               time.Duration(interval),
		}
		cb, err := bw.NewCircuitBreaker(s)
		if err != nil {
			msg := err.Error()
			for _, k := range knownKeys {
				if strings.Contains(msg, k) {
					return
				}
			}
			t.Fatalf("refused without naming a key: %q (settings %+v)", msg, s)
		}
		defer cb.Close()
		// A built breaker reads its configuration back, and that configuration builds the
		// same breaker again.
		back := cb.Config()
		again, err := bw.NewCircuitBreaker(back)
		if err != nil {
			t.Fatalf("the read-back configuration %+v is refused: %v", back, err)
		}
		defer again.Close()
		if again.Config() != back {
			t.Fatalf("read back %+v, then %+v", back, again.Config())
		}
		_ = cb.Execute(func() error { return nil })
	})
}
