package breakwater

/*
#cgo noescape bw_breaker_config_json
#cgo nocallback bw_breaker_config_json

#include "breakwater.h"
*/
import "C"

import (
	"encoding/json"
	"math"
	"time"
)

// BreakerSettings configures a circuit breaker (the role of gobreaker's Settings).
// A zero field means "the library's default" (ConfigDefaultsJSON(PolicyCircuitBreaker));
// the binding maps the fields set to the JSON keys of the C ABI and leaves defaults
// and validation to the library, whose messages name the JSON key
// (failure_rate.threshold, ...).
//
// Set one trip policy: ConsecutiveFailures; FailuresInWindow with FailureWindow;
// FailureRate with an optional window (WindowCalls or WindowTime) and MinimumCalls,
// optionally with SlowCallRate and SlowDuration; or SlowCallRate alone (with
// SlowDuration, a window and MinimumCalls). None set: the library's default policy.
// Two policies are refused by the library.
type BreakerSettings struct {
	// Name names the breaker (in errors, metrics and events).
	Name string
	// ConsecutiveFailures opens on the n-th consecutive failure.
	ConsecutiveFailures int
	// FailuresInWindow opens on n failures within FailureWindow.
	FailuresInWindow int
	FailureWindow    time.Duration
	// FailureRate opens when the window's failure rate reaches it, in (0, 1].
	FailureRate float64
	// SlowCallRate opens when the rate of calls lasting at least SlowDuration reaches
	// it, in (0, 1].
	SlowCallRate float64
	SlowDuration time.Duration
	// WindowCalls (the last n outcomes) or WindowTime is the rate policies' window.
	WindowCalls int
	WindowTime  time.Duration
	// MinimumCalls is the number of outcomes the window must hold before a rate counts.
	MinimumCalls int
	// OpenDuration is how long the breaker stays open before a trial.
	OpenDuration time.Duration
	// OpenDurationMultiplier grows the open duration on consecutive re-opens, up to
	// OpenDurationCap.
	OpenDurationMultiplier float64
	OpenDurationCap        time.Duration
	// HalfOpenMaxCalls is the number of admissions of a half-open trial (gobreaker's
	// MaxRequests).
	HalfOpenMaxCalls int
	// SuccessThreshold is the number of successes that close a trial (count policies).
	SuccessThreshold int
	// HalfOpenMaxWait is how long a trial may stay undecided before the breaker re-opens.
	HalfOpenMaxWait time.Duration
	// Interval clears the closed state's counts (and starts a new generation) every
	// interval, as gobreaker's Interval; zero never clears them.
	Interval time.Duration
}

// breakerMs is a duration as a JSON number of milliseconds (a fraction when it has one).
func breakerMs(d time.Duration) any {
	if d%time.Millisecond == 0 {
		return int64(d / time.Millisecond)
	}
	return float64(d) / 1e6
}

// JSON returns the settings in the JSON form of the C ABI (only the fields set; "{}"
// for the zero value).
func (c BreakerSettings) JSON() (string, error) {
	m := map[string]any{}
	if c.Name != "" {
		m["name"] = c.Name
	}
	rate := map[string]any{}
	if c.WindowCalls != 0 {
		rate["window"] = map[string]any{"count": c.WindowCalls}
	} else if c.WindowTime != 0 {
		rate["window"] = map[string]any{"time_ms": breakerMs(c.WindowTime)}
	}
	if c.MinimumCalls != 0 {
		rate["minimum_calls"] = c.MinimumCalls
	}
	var slow map[string]any
	if c.SlowCallRate != 0 || c.SlowDuration != 0 {
		slow = map[string]any{"threshold": c.SlowCallRate, "slow_duration_ms": breakerMs(c.SlowDuration)}
	}
	if c.ConsecutiveFailures != 0 {
		m["consecutive_failures"] = c.ConsecutiveFailures
	}
	if c.FailuresInWindow != 0 || c.FailureWindow != 0 {
		m["failures_in_window"] = map[string]any{"threshold": c.FailuresInWindow,
			"window_ms": breakerMs(c.FailureWindow)}
	}
	if c.FailureRate != 0 {
		p := map[string]any{"threshold": c.FailureRate}
		for k, v := range rate {
			p[k] = v
		}
		if slow != nil {
			p["slow"] = slow
		}
		m["failure_rate"] = p
	} else if slow != nil {
		for k, v := range rate {
			slow[k] = v
		}
		m["slow_call_rate"] = slow
	} else if len(rate) != 0 {
		m["failure_rate"] = rate // refused by the library: failure_rate.threshold is required
	}
	if c.OpenDuration != 0 {
		m["open_duration_ms"] = breakerMs(c.OpenDuration)
	}
	if c.OpenDurationMultiplier != 0 {
		m["open_duration_multiplier"] = c.OpenDurationMultiplier
	}
	if c.OpenDurationCap != 0 {
		m["open_duration_cap_ms"] = breakerMs(c.OpenDurationCap)
	}
	if c.HalfOpenMaxCalls != 0 {
		m["half_open_max_calls"] = c.HalfOpenMaxCalls
	}
	if c.SuccessThreshold != 0 {
		m["success_threshold"] = c.SuccessThreshold
	}
	if c.HalfOpenMaxWait != 0 {
		m["half_open_max_wait_ms"] = breakerMs(c.HalfOpenMaxWait)
	}
	if c.Interval != 0 {
		m["interval_ms"] = breakerMs(c.Interval)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", &Error{Status: StatusInvalidConfig, Policy: PolicyCircuitBreaker, Message: err.Error()}
	}
	return string(b), nil
}

// settingsText is the JSON text of s for the C ABI: empty for the zero value (the
// defaults; for a registry, "the existing breaker").
func settingsText(s BreakerSettings) (string, error) {
	if s == (BreakerSettings{}) {
		return "", nil
	}
	return s.JSON()
}

// The JSON form of bw_breaker_config_json (the form bw_breaker_new_json accepts).
type windowJSON struct {
	Count  *int     `json:"count"`
	TimeMs *float64 `json:"time_ms"`
}

type effectiveJSON struct {
	Name                string `json:"name"`
	ConsecutiveFailures *int   `json:"consecutive_failures"`
	FailuresInWindow    *struct {
		Threshold int     `json:"threshold"`
		WindowMs  float64 `json:"window_ms"`
	} `json:"failures_in_window"`
	FailureRate *struct {
		Threshold    float64     `json:"threshold"`
		Window       *windowJSON `json:"window"`
		MinimumCalls *int        `json:"minimum_calls"`
		Slow         *struct {
			Threshold      float64 `json:"threshold"`
			SlowDurationMs float64 `json:"slow_duration_ms"`
		} `json:"slow"`
	} `json:"failure_rate"`
	SlowCallRate *struct {
		Threshold      float64     `json:"threshold"`
		SlowDurationMs float64     `json:"slow_duration_ms"`
		Window         *windowJSON `json:"window"`
		MinimumCalls   *int        `json:"minimum_calls"`
	} `json:"slow_call_rate"`
	OpenDurationMs         float64  `json:"open_duration_ms"`
	OpenDurationMultiplier float64  `json:"open_duration_multiplier"`
	OpenDurationCapMs      *float64 `json:"open_duration_cap_ms"`
	HalfOpenMaxCalls       int      `json:"half_open_max_calls"`
	SuccessThreshold       *int     `json:"success_threshold"`
	HalfOpenMaxWaitMs      *float64 `json:"half_open_max_wait_ms"`
	IntervalMs             *float64 `json:"interval_ms"`
}

func msDuration(ms float64) time.Duration { return time.Duration(math.Round(ms * 1e6)) }

func optMs(ms *float64) time.Duration {
	if ms == nil {
		return 0
	}
	return msDuration(*ms)
}

func optInt(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

func (s *BreakerSettings) setWindow(w *windowJSON, minimum *int) {
	if w != nil {
		s.WindowCalls = optInt(w.Count)
		s.WindowTime = optMs(w.TimeMs)
	}
	s.MinimumCalls = optInt(minimum)
}

// settingsOf maps the library's effective configuration onto BreakerSettings.
func settingsOf(text string) (BreakerSettings, error) {
	var j effectiveJSON
	if err := json.Unmarshal([]byte(text), &j); err != nil {
		return BreakerSettings{}, err
	}
	s := BreakerSettings{
		Name:                   j.Name,
		ConsecutiveFailures:    optInt(j.ConsecutiveFailures),
		OpenDuration:           msDuration(j.OpenDurationMs),
		OpenDurationMultiplier: j.OpenDurationMultiplier,
		OpenDurationCap:        optMs(j.OpenDurationCapMs),
		HalfOpenMaxCalls:       j.HalfOpenMaxCalls,
		SuccessThreshold:       optInt(j.SuccessThreshold),
		HalfOpenMaxWait:        optMs(j.HalfOpenMaxWaitMs),
		Interval:               optMs(j.IntervalMs),
	}
	if f := j.FailuresInWindow; f != nil {
		s.FailuresInWindow, s.FailureWindow = f.Threshold, msDuration(f.WindowMs)
	}
	if f := j.FailureRate; f != nil {
		s.FailureRate = f.Threshold
		s.setWindow(f.Window, f.MinimumCalls)
		if f.Slow != nil {
			s.SlowCallRate, s.SlowDuration = f.Slow.Threshold, msDuration(f.Slow.SlowDurationMs)
		}
	}
	if f := j.SlowCallRate; f != nil {
		s.SlowCallRate, s.SlowDuration = f.Threshold, msDuration(f.SlowDurationMs)
		s.setWindow(f.Window, f.MinimumCalls)
	}
	return s, nil
}

// Config returns the breaker's effective configuration, read from the library
// (bw_breaker_config_json): every default filled in, exactly one trip policy's fields
// set. NewCircuitBreaker(cb.Config()) builds a breaker configured the same way.
func (b *CircuitBreaker) Config() BreakerSettings {
	ptr := b.h.acquire()
	defer b.h.release()
	buf := make([]C.char, 512)
	for {
		var e C.bw_error
		var n C.size_t
		s := C.bw_breaker_config_json(ptr, &buf[0], C.size_t(len(buf)), &n, &e)
		if s == C.BW_BUFFER_TOO_SMALL {
			buf = make([]C.char, int(n)+1)
			continue
		}
		if err := check(s, &e); err != nil {
			panic(err)
		}
		settings, err := settingsOf(C.GoStringN(&buf[0], C.int(n)))
		if err != nil {
			panic("breakwater: bw_breaker_config_json: " + err.Error())
		}
		return settings
	}
}
