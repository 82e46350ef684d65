package breakwater

/*
#cgo noescape bw_registry_bulkhead
#cgo nocallback bw_registry_bulkhead
#cgo noescape bw_registry_rate_limiter
#cgo nocallback bw_registry_rate_limiter
#cgo noescape bw_registry_prometheus
#cgo nocallback bw_registry_prometheus
#cgo nocallback bw_registry_prometheus_content_type
#cgo nocallback bw_health_status_name
#cgo noescape bw_registry_health_json
#cgo nocallback bw_registry_health_json

#include "breakwater.h"
*/
import "C"

import (
	"encoding/json"
	"net/http"
	"runtime"
)

// The registry's policies other than breakers (Registry.CircuitBreaker is in breaker.go)
// and its exports: the Prometheus text and the health report, both written by the
// library.

// Bulkhead returns a new handle on the registry's bulkhead named name, built on first
// use with cfg (cfg.Name is ignored: the bulkhead is named name). Handles of the same
// name share their permits, and Prometheus exports the bulkhead.
//
// The zero BulkheadConfig asks for the existing bulkhead whatever its configuration (or
// one with the library's defaults); such a handle does not know the registered MaxWait,
// so its Execute does not wait for a permit (ExecuteContext waits until the context is
// done). A cfg that differs from the registered bulkhead's gives an error matching
// ErrInvalidConfig, as does an invalid one. Registry bulkheads run on the monotonic
// clock: a cfg with a Clock gives an error matching ErrInvalidArgument.
func (r *Registry) Bulkhead(name string, cfg BulkheadConfig) (*Bulkhead, error) {
	if cfg.Clock != nil {
		return nil, &Error{Status: StatusInvalidArgument, Policy: PolicyBulkhead,
			Message: "a registry bulkhead runs on the monotonic clock: BulkheadConfig.Clock must be nil"}
	}
	checkDuration("BulkheadConfig.MaxWait", cfg.MaxWait)
	var text []byte
	if cfg != (BulkheadConfig{Name: cfg.Name}) {
		text = jsonConfig(bulkheadJSON{Name: name, MaxConcurrent: cfg.MaxConcurrent, MaxWaitMs: ms(cfg.MaxWait)})
	}
	reg := r.h.acquire()
	defer r.h.release()
	textP, textN := cBytes(text)
	nameP, nameN := cString(name)
	var e C.bw_error
	var p *C.bw_bulkhead
	if err := check(C.bw_registry_bulkhead(reg, nameP, nameN, textP, textN, &p, &e), &e); err != nil {
		return nil, err
	}
	runtime.KeepAlive(name)
	runtime.KeepAlive(text)
	b := &Bulkhead{h: handle[*C.bw_bulkhead]{ptr: p, what: "Bulkhead"}, maxWait: cfg.MaxWait}
	runtime.SetFinalizer(b, func(b *Bulkhead) { _ = b.Close() })
	return b, nil
}

// RateLimiter returns a new handle on the registry's rate limiter named name, built on
// first use with cfg (cfg.Name is ignored: the limiter is named name; cfg.Clock, nil for
// the monotonic clock, is used only when the limiter is built). Handles of the same
// name share their permits, and Prometheus exports the limiter.
//
// A cfg whose fields other than Name and Clock are all zero asks for the existing
// limiter whatever its configuration (or one with the library's defaults). A cfg that
// differs from the registered limiter's gives an error matching ErrInvalidConfig, as
// does an invalid one; a negative duration panics.
func (r *Registry) RateLimiter(name string, cfg RateLimiterConfig) (*RateLimiter, error) {
	checkDuration("RateLimiterConfig.Period", cfg.Period)
	checkDuration("RateLimiterConfig.MaxWait", cfg.MaxWait)
	var text []byte
	if cfg.Permits != 0 || cfg.Period != 0 || cfg.Burst != 0 || cfg.MaxWait != 0 {
		j := limiterJSON{Name: name, Permits: cfg.Permits, PeriodMs: ms(cfg.Period), MaxWaitMs: ms(cfg.MaxWait)}
		if cfg.Burst != 0 {
			b := cfg.Burst
			j.Burst = &b
		}
		text = jsonConfig(j)
	}
	reg := r.h.acquire()
	defer r.h.release()
	textP, textN := cBytes(text)
	nameP, nameN := cString(name)
	var e C.bw_error
	var p *C.bw_limiter
	var err error
	withClock(cfg.Clock, func(c *C.bw_clock) {
		err = check(C.bw_registry_rate_limiter(reg, nameP, nameN, textP, textN, c, &p, &e), &e)
	})
	runtime.KeepAlive(name)
	runtime.KeepAlive(text)
	if err != nil {
		return nil, err
	}
	l := &RateLimiter{h: handle[*C.bw_limiter]{ptr: p, what: "RateLimiter"}}
	runtime.SetFinalizer(l, func(l *RateLimiter) { _ = l.Close() })
	return l, nil
}

// registryText reads one of the registry's texts with the library's copy convention
// (BW_BUFFER_TOO_SMALL gives the length: ask again with a larger buffer).
func (r *Registry) registryText(read func(reg *C.bw_registry, buf *C.char, n C.size_t, out *C.size_t, e *C.bw_error) C.bw_status) (string, error) {
	reg := r.h.acquire()
	defer r.h.release()
	buf := make([]C.char, 4096)
	for {
		var e C.bw_error
		var n C.size_t
		s := read(reg, &buf[0], C.size_t(len(buf)), &n, &e)
		if s == C.BW_BUFFER_TOO_SMALL {
			// The text can grow between two calls: leave room for that.
			buf = make([]C.char, int(n)+int(n)/4+64)
			continue
		}
		if err := check(s, &e); err != nil {
			return "", err
		}
		return C.GoStringN(&buf[0], C.int(n)), nil
	}
}

// Prometheus returns the Prometheus text of every policy in the registry (breakers,
// bulkheads, rate limiters), as the library writes it (families breakwater_breaker_*,
// breakwater_bulkhead_*, breakwater_rate_limiter_*). The sub-module
// github.com/breakwater-rs/breakwater/bindings/go/prometheus turns it into a
// client_golang Collector. The text is OpenMetrics 1.0 (serve it with
// PrometheusContentType); an empty registry gives "# EOF" alone.
func (r *Registry) Prometheus() (string, error) {
	return r.registryText(func(reg *C.bw_registry, buf *C.char, n C.size_t, out *C.size_t, e *C.bw_error) C.bw_status {
		return C.bw_registry_prometheus(reg, buf, n, out, e)
	})
}

// PrometheusContentType returns the HTTP content type of Registry.Prometheus's text, as
// the library names it: "application/openmetrics-text; version=1.0.0; charset=utf-8".
func PrometheusContentType() string {
	return C.GoString(C.bw_registry_prometheus_content_type())
}

// HealthJSON returns the health report of the registry's breakers as the library writes
// it: {"status":"DOWN","components":{"authors":{"status":"DOWN","details":{"state":"open"}}}}.
// Health decodes it.
func (r *Registry) HealthJSON() (string, error) {
	return r.registryText(func(reg *C.bw_registry, buf *C.char, n C.size_t, out *C.size_t, e *C.bw_error) C.bw_status {
		return C.bw_registry_health_json(reg, buf, n, out, e)
	})
}

// The statuses of a health report and of its components, as the library names them
// (bw_health_status_name).
var (
	// HealthUp: a breaker closed or disabled; every component up ("UP").
	HealthUp = C.GoString(C.bw_health_status_name(C.BW_HEALTH_UP))
	// HealthDegraded: a breaker half-open; the worst component degraded ("DEGRADED").
	HealthDegraded = C.GoString(C.bw_health_status_name(C.BW_HEALTH_DEGRADED))
	// HealthDown: a breaker open or forced open; some component down ("DOWN").
	HealthDown = C.GoString(C.bw_health_status_name(C.BW_HEALTH_DOWN))
)

// Health is the registry's health report (Registry.Health): an overall Status (the
// worst of the components': HealthUp, HealthDegraded or HealthDown) and one component per
// breaker, by name.
type Health struct {
	Status     string                     `json:"status"`
	Components map[string]HealthComponent `json:"components"`
}

// HealthComponent is one breaker (or service client) of a health report: its Status and
// the Details the library gives (for a breaker, "state": "closed", "open", ...).
type HealthComponent struct {
	Status  string         `json:"status"`
	Details map[string]any `json:"details"`
}

// Health returns the registry's health report, decoded from the library's JSON
// (HealthJSON). A breaker is up when closed or disabled, degraded when half-open, down
// when open or forced open; the overall status is the worst.
func (r *Registry) Health() (Health, error) {
	text, err := r.HealthJSON()
	if err != nil {
		return Health{}, err
	}
	return decodeHealth(text)
}

func decodeHealth(text string) (Health, error) {
	var h Health
	if err := json.Unmarshal([]byte(text), &h); err != nil {
		return Health{}, &Error{Status: StatusFailed, Message: "breakwater: the library's health report is not valid JSON: " + err.Error()}
	}
	return h, nil
}

// HealthHandler serves the registry's health report (HealthJSON) as application/json:
// status 200 when the overall status is up or degraded, 503 Service Unavailable when it
// is down (as Spring Boot's /actuator/health does), 500 with the error's text if the
// report cannot be read. Mount it at /health.
func (r *Registry) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		text, err := r.HealthJSON()
		var h Health
		if err == nil {
			h, err = decodeHealth(text)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if h.Status == HealthDown {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(text))
	})
}
