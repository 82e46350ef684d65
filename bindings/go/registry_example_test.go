package breakwater_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	breakwater "github.com/breakwater-rs/breakwater/bindings/go"
)

// Handles of the same name share one bulkhead; the registry exports it.
func ExampleRegistry_Bulkhead() {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	a, _ := reg.Bulkhead("email", breakwater.BulkheadConfig{MaxConcurrent: 1})
	defer a.Close()
	b, _ := reg.Bulkhead("email", breakwater.BulkheadConfig{}) // the existing one
	defer b.Close()
	fmt.Println(a.TryAcquire(), b.TryAcquire())
	_, err := reg.Bulkhead("email", breakwater.BulkheadConfig{MaxConcurrent: 2})
	fmt.Println(errors.Is(err, breakwater.ErrInvalidConfig))
	// Output:
	// true false
	// true
}

// Handles of the same name share one rate limiter.
func ExampleRegistry_RateLimiter() {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	clock := breakwater.NewManualClock()
	defer clock.Close()
	a, _ := reg.RateLimiter("api", breakwater.RateLimiterConfig{Permits: 2, Period: time.Second, Clock: clock})
	defer a.Close()
	b, _ := reg.RateLimiter("api", breakwater.RateLimiterConfig{})
	defer b.Close()
	fmt.Println(a.Allow(), b.Allow(), a.Allow())
	// Output: true true false
}

// The Prometheus text of the registry's policies, as the library writes it.
func ExampleRegistry_Prometheus() {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	email, _ := reg.Bulkhead("email", breakwater.BulkheadConfig{MaxConcurrent: 5})
	defer email.Close()
	text, _ := reg.Prometheus()
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "breakwater_bulkhead_max") {
			fmt.Println(line)
		}
	}
	// Output: breakwater_bulkhead_max{bulkhead="email"} 5
}

// The health report: a breaker is down while open.
func ExampleRegistry_Health() {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	cb, _ := reg.CircuitBreaker("authors", breakwater.BreakerSettings{})
	defer cb.Close()
	cb.ForceOpen()
	h, _ := reg.Health()
	fmt.Println(h.Status, h.Components["authors"].Status, h.Components["authors"].Details["state"])
	text, _ := reg.HealthJSON()
	fmt.Println(text)
	// Output:
	// DOWN DOWN forced-open
	// {"status":"DOWN","components":{"authors":{"status":"DOWN","details":{"state":"forced-open"}}}}
}

// /health answers 503 while a breaker is open.
func ExampleRegistry_HealthHandler() {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	cb, _ := reg.CircuitBreaker("authors", breakwater.BreakerSettings{})
	defer cb.Close()
	http.Handle("/health", reg.HealthHandler())

	rec := httptest.NewRecorder()
	reg.HealthHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	fmt.Println(rec.Code)
	cb.ForceOpen()
	rec = httptest.NewRecorder()
	reg.HealthHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	fmt.Println(rec.Code)
	// Output:
	// 200
	// 503
}

// The library's records in a slog logger: the sentence the core writes, its fields as
// attributes.
func ExampleSetLogger() {
	breakwater.FlushLogs()
	defer breakwater.SetLogger(slog.Default())
	// Keep the output short: no time, a few of the library's fields.
	some := func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.LevelKey, slog.MessageKey, "name", "reason":
			return a
		}
		return slog.Attr{}
	}
	breakwater.SetLogger(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: some})))

	cb, _ := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{Name: "authors", ConsecutiveFailures: 2})
	defer cb.Close()
	for i := 0; i < 2; i++ {
		_ = cb.Execute(func() error { return errors.New("down") })
	}
	breakwater.FlushLogs()
	// Output:
	// level=WARN msg="breaker authors: closed -> open (2 consecutive failures)" name=authors reason="threshold reached"
}

// The sentence of a transition, as the library's log record says it.
func ExampleCircuitBreaker_Describe() {
	cb, _ := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{Name: "authors", ConsecutiveFailures: 2})
	defer cb.Close()
	for i := 0; i < 2; i++ {
		_ = cb.Execute(func() error { return errors.New("down") })
	}
	for _, t := range cb.PollEvents() {
		text, _ := cb.Describe(t)
		fmt.Println(text)
	}
	// Output: breaker authors: closed -> open (2 consecutive failures)
}

// FlushLogs waits for the records of what happened before the call.
func ExampleFlushLogs() {
	breakwater.FlushLogs()
	defer breakwater.SetLogger(slog.Default())
	var out strings.Builder
	breakwater.SetLogger(slog.New(slog.NewJSONHandler(&out, nil)))

	cb, _ := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{Name: "prices"})
	defer cb.Close()
	cb.ForceOpen()
	breakwater.FlushLogs() // the record is in out now
	fmt.Println(strings.Contains(out.String(), `"msg":"breaker prices: closed -> forced-open`))
	// Output: true
}
