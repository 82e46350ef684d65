package gotests

// Observability through the Go binding: registry bulkheads and rate limiters, the
// health report (decoded and served), and the library's log records in log/slog. The
// Prometheus text is parsed with expfmt in the bindings/go/prometheus module's tests.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	breakwater "github.com/breakwater-rs/breakwater/bindings/go"
)

func TestRegistryBulkheadHandlesShareTheirPermits(t *testing.T) {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	a, err := reg.Bulkhead("email", breakwater.BulkheadConfig{MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// The zero config: the existing bulkhead, whatever its configuration.
	b, err := reg.Bulkhead("email", breakwater.BulkheadConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !a.TryAcquire() || !b.TryAcquire() {
		t.Fatal("two permits of two should be free")
	}
	if a.TryAcquire() || b.TryAcquire() {
		t.Fatal("the handles should share the 2 permits")
	}
	if err := b.Execute(func() error { return nil }); !errors.Is(err, breakwater.ErrBulkheadFull) {
		t.Fatalf("Execute on a full shared bulkhead: %v, want ErrBulkheadFull", err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if m := b.Metrics(); m.Max != 2 || m.InUse != 1 || m.Rejected != 3 {
		t.Fatalf("metrics through the other handle: %+v", m)
	}
	// The same explicit config is accepted; cfg.Name is ignored (the name argument wins).
	c, err := reg.Bulkhead("email", breakwater.BulkheadConfig{Name: "other", MaxConcurrent: 2})
	if err != nil {
		t.Fatalf("the registered config again: %v", err)
	}
	defer c.Close()
	if !c.TryAcquire() || c.TryAcquire() {
		t.Fatal("the third handle should see the shared permits")
	}
}

func TestRegistryBulkheadRefusals(t *testing.T) {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	a, err := reg.Bulkhead("email", breakwater.BulkheadConfig{MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = reg.Bulkhead("email", breakwater.BulkheadConfig{MaxConcurrent: 3})
	if !errors.Is(err, breakwater.ErrInvalidConfig) || !strings.Contains(err.Error(), "email") {
		t.Errorf("a different config for a registered name: %v, want ErrInvalidConfig naming it", err)
	}
	_, err = reg.Bulkhead("fresh", breakwater.BulkheadConfig{MaxWait: time.Second})
	if !errors.Is(err, breakwater.ErrInvalidConfig) || !strings.Contains(err.Error(), "max_concurrent") {
		t.Errorf("max_concurrent 0: %v, want ErrInvalidConfig naming max_concurrent", err)
	}
	clock := breakwater.NewManualClock()
	defer clock.Close()
	_, err = reg.Bulkhead("timed", breakwater.BulkheadConfig{MaxConcurrent: 1, Clock: clock})
	var e *breakwater.Error
	if !errors.As(err, &e) || e.Status != breakwater.StatusInvalidArgument || !strings.Contains(err.Error(), "Clock") {
		t.Errorf("a registry bulkhead with a clock: %v, want an invalid-argument error naming Clock", err)
	}
	_, err = reg.Bulkhead("", breakwater.BulkheadConfig{MaxConcurrent: 1})
	if !errors.As(err, &e) || e.Status != breakwater.StatusInvalidArgument {
		t.Errorf("an empty name: %v, want an invalid-argument error", err)
	}
}

func TestRegistryRateLimiterHandlesShareTheirPermits(t *testing.T) {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	clock := breakwater.NewManualClock()
	defer clock.Close()
	a, err := reg.RateLimiter("api", breakwater.RateLimiterConfig{Permits: 3, Period: time.Second, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := reg.RateLimiter("api", breakwater.RateLimiterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := 0
	for i := 0; i < 4; i++ {
		for _, l := range []*breakwater.RateLimiter{a, b} {
			if l.Allow() {
				got++
			}
		}
	}
	if got != 3 {
		t.Fatalf("two handles took %d permits, want the 3 they share", got)
	}
	clock.Advance(time.Second) // the limiter's clock is the one given when it was built
	if !b.Allow() {
		t.Fatal("a second later a permit should be free again")
	}
	if m := a.Metrics(); m.Permitted != 4 || m.Rejected != 5 {
		t.Fatalf("metrics through the first handle: %+v", m)
	}
	_, err = reg.RateLimiter("api", breakwater.RateLimiterConfig{Permits: 4, Period: time.Second})
	if !errors.Is(err, breakwater.ErrInvalidConfig) {
		t.Errorf("a different config for a registered name: %v, want ErrInvalidConfig", err)
	}
	_, err = reg.RateLimiter("zero", breakwater.RateLimiterConfig{Permits: 3})
	if !errors.Is(err, breakwater.ErrInvalidConfig) || !strings.Contains(err.Error(), "period") {
		t.Errorf("a zero period: %v, want ErrInvalidConfig naming the period", err)
	}
}

// tripped returns a registry breaker with 2 consecutive failures to open, for 1s, on clock.
func tripped(t *testing.T, reg *breakwater.Registry, name string, clock *breakwater.ManualClock) *breakwater.CircuitBreaker {
	t.Helper()
	cb, err := reg.CircuitBreaker(name, breakwater.BreakerSettings{ConsecutiveFailures: 2, OpenDuration: time.Second},
		breakwater.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cb.Close() })
	for i := 0; i < 2; i++ {
		_ = cb.Execute(func() error { return errors.New("down") })
	}
	if cb.State() != breakwater.StateOpen {
		t.Fatalf("%s should be open", name)
	}
	return cb
}

func health(t *testing.T, reg *breakwater.Registry) breakwater.Health {
	t.Helper()
	h, err := reg.Health()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHealthReportDecoded(t *testing.T) {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	clock := breakwater.NewManualClock()
	defer clock.Close()
	if h := health(t, reg); h.Status != breakwater.HealthUp || len(h.Components) != 0 {
		t.Fatalf("an empty registry: %+v, want UP with no component", h)
	}
	good, err := reg.CircuitBreaker("prices", breakwater.BreakerSettings{}, breakwater.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	h := health(t, reg)
	if h.Status != breakwater.HealthUp || h.Components["prices"].Status != breakwater.HealthUp ||
		h.Components["prices"].Details["state"] != "closed" {
		t.Fatalf("one closed breaker: %+v", h)
	}

	bad := tripped(t, reg, "authors", clock)
	h = health(t, reg)
	if h.Status != breakwater.HealthDown || h.Components["authors"].Status != breakwater.HealthDown ||
		h.Components["authors"].Details["state"] != "open" || h.Components["prices"].Status != breakwater.HealthUp {
		t.Fatalf("one open breaker: %+v, want DOWN overall", h)
	}
	clock.Advance(time.Second)
	h = health(t, reg)
	if h.Status != breakwater.HealthDegraded || h.Components["authors"].Details["state"] != "half-open" {
		t.Fatalf("a half-open breaker: %+v, want DEGRADED", h)
	}
	good.ForceOpen()
	h = health(t, reg)
	if h.Status != breakwater.HealthDown || h.Components["prices"].Details["state"] != "forced-open" {
		t.Fatalf("a forced-open breaker: %+v, want DOWN", h)
	}
	good.Reset()
	_ = bad.Execute(func() error { return nil }) // the trial succeeds
	if h = health(t, reg); h.Status != breakwater.HealthUp {
		t.Fatalf("after recovery: %+v, want UP", h)
	}

	// Health decodes exactly the library's JSON.
	text, err := reg.HealthJSON()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil || raw["status"] != breakwater.HealthUp {
		t.Fatalf("HealthJSON %q: %v", text, err)
	}
}

func TestHealthHandlerAnswers503WhenDown(t *testing.T) {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	clock := breakwater.NewManualClock()
	defer clock.Close()
	handler := reg.HealthHandler()
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
		return rec
	}
	cb := tripped(t, reg, "authors", clock)
	rec := serve()
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("an open breaker: status %d, want 503", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	want, _ := reg.HealthJSON()
	if rec.Body.String() != want {
		t.Errorf("body %q, want the library's report %q", rec.Body.String(), want)
	}
	clock.Advance(time.Second)
	if rec = serve(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"DEGRADED"`) {
		t.Errorf("a half-open breaker: %d %s, want 200 and DEGRADED", rec.Code, rec.Body.String())
	}
	_ = cb.Execute(func() error { return nil })
	if rec = serve(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"UP"`) {
		t.Errorf("recovered: %d %s, want 200 and UP", rec.Code, rec.Body.String())
	}
}

// captured is one record a capture handler saw.
type captured struct {
	level   slog.Level
	message string
	attrs   map[string]any
	at      time.Time
}

// capture is a slog.Handler that keeps the records at level and above.
type capture struct {
	level   slog.Level
	mu      sync.Mutex
	records []captured
	panics  bool
}

func (c *capture) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }
func (c *capture) WithAttrs([]slog.Attr) slog.Handler           { return c }
func (c *capture) WithGroup(string) slog.Handler                { return c }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	panics := c.panics
	c.mu.Unlock()
	if panics {
		panic("a broken handler")
	}
	rec := captured{level: r.Level, message: r.Message, attrs: map[string]any{}, at: r.Time}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Any()
		return true
	})
	c.mu.Lock()
	c.records = append(c.records, rec)
	c.mu.Unlock()
	return nil
}

// of returns the records about the policy named name.
func (c *capture) of(name string) []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []captured
	for _, r := range c.records {
		if r.attrs["name"] == name {
			out = append(out, r)
		}
	}
	return out
}

// useLogger flushes what earlier tests caused, sends the records to a new capture at
// level, and restores slog.Default() after the test.
func useLogger(t *testing.T, level slog.Level) *capture {
	t.Helper()
	breakwater.FlushLogs()
	c := &capture{level: level}
	breakwater.SetLogger(slog.New(c))
	t.Cleanup(func() {
		breakwater.FlushLogs()
		breakwater.SetLogger(slog.Default())
	})
	return c
}

func TestSlogRecordsOfAScriptedOutage(t *testing.T) {
	c := useLogger(t, slog.LevelDebug)
	before := time.Now()
	reg := breakwater.NewRegistry()
	defer reg.Close()
	clock := breakwater.NewManualClock()
	defer clock.Close()
	cb, err := reg.CircuitBreaker("authors", breakwater.BreakerSettings{ConsecutiveFailures: 3, OpenDuration: time.Second},
		breakwater.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	fail := func() error { return errors.New("authors is down") }
	ok := func() error { return nil }
	for i := 0; i < 3; i++ {
		_ = cb.Execute(fail)
	}
	_ = cb.Execute(ok) // rejected
	clock.Advance(time.Second)
	_ = cb.Execute(fail) // the trial fails
	clock.Advance(time.Second)
	_ = cb.Execute(ok) // the trial succeeds
	breakwater.FlushLogs()

	type want struct {
		level             slog.Level
		message           string
		from, to, reason  string
		generationPresent bool
	}
	wants := []want{
		{slog.LevelWarn, "breaker authors: closed -> open (3 consecutive failures)", "closed", "open", "threshold reached", true},
		{slog.LevelDebug, "breaker authors: call rejected (open)", "", "", "open", false},
		{slog.LevelInfo, "breaker authors: open -> half-open (open duration elapsed)", "open", "half-open", "open duration elapsed", true},
		{slog.LevelWarn, "breaker authors: half-open -> open (trial failed)", "half-open", "open", "trial failed", true},
		{slog.LevelInfo, "breaker authors: open -> half-open (open duration elapsed)", "open", "half-open", "open duration elapsed", true},
		{slog.LevelInfo, "breaker authors: half-open -> closed (trial succeeded)", "half-open", "closed", "trial succeeded", true},
	}
	got := c.of("authors")
	var lines []string
	for _, r := range got {
		lines = append(lines, fmt.Sprintf("%v %s %v", r.level, r.message, r.attrs))
	}
	if len(got) != len(wants) {
		t.Fatalf("%d records, want %d:\n%s", len(got), len(wants), strings.Join(lines, "\n"))
	}
	var lastGen int64
	for i, w := range wants {
		r := got[i]
		if r.level != w.level || r.message != w.message {
			t.Errorf("record %d: %v %q, want %v %q", i, r.level, r.message, w.level, w.message)
		}
		if r.attrs["target"] != "breakwater::breaker" || r.attrs["policy"] != "circuit_breaker" {
			t.Errorf("record %d: target %v policy %v", i, r.attrs["target"], r.attrs["policy"])
		}
		if r.attrs["reason"] != w.reason {
			t.Errorf("record %d: reason %v, want %q", i, r.attrs["reason"], w.reason)
		}
		if w.from != "" && (r.attrs["from"] != w.from || r.attrs["to"] != w.to) {
			t.Errorf("record %d: %v -> %v, want %s -> %s", i, r.attrs["from"], r.attrs["to"], w.from, w.to)
		}
		if w.generationPresent {
			gen, isInt := r.attrs["generation"].(int64)
			if !isInt || gen <= lastGen {
				t.Errorf("record %d: generation %#v, want an int64 above %d", i, r.attrs["generation"], lastGen)
			}
			lastGen = gen
		}
		if r.at.Before(before.Add(-time.Second)) || r.at.After(time.Now().Add(time.Second)) {
			t.Errorf("record %d: time %v is not the wall-clock time of the event", i, r.at)
		}
	}

	// Describe gives the same sentences for the polled transitions.
	var transitions []string
	for _, r := range got {
		if r.attrs["from"] != nil {
			transitions = append(transitions, r.message)
		}
	}
	events := cb.PollEvents()
	if len(events) != len(transitions) {
		t.Fatalf("%d polled transitions, %d transition records", len(events), len(transitions))
	}
	for i, ev := range events {
		text, err := cb.Describe(ev)
		if err != nil || text != transitions[i] {
			t.Errorf("Describe(%+v) = %q, %v; the record said %q", ev, text, err, transitions[i])
		}
	}
	bad := events[0]
	bad.Reason = "no such reason"
	if _, err := cb.Describe(bad); !errors.Is(err, breakwater.ErrInvalidArgument) || !strings.Contains(err.Error(), "no such reason") {
		t.Errorf("Describe of an unknown reason: %v, want ErrInvalidArgument naming it", err)
	}
	bad = events[0]
	bad.To = 99
	if _, err := cb.Describe(bad); !errors.Is(err, breakwater.ErrInvalidArgument) {
		t.Errorf("Describe of an unknown state: %v, want ErrInvalidArgument", err)
	}
}

func TestSlogLevelComesFromTheLoggersHandler(t *testing.T) {
	c := useLogger(t, slog.LevelWarn)
	reg := breakwater.NewRegistry()
	defer reg.Close()
	clock := breakwater.NewManualClock()
	defer clock.Close()
	cb := tripped(t, reg, "warn-only", clock)
	_ = cb.Execute(func() error { return nil }) // rejected: DEBUG
	clock.Advance(time.Second)
	_ = cb.Execute(func() error { return nil }) // half-open, closed: INFO
	breakwater.FlushLogs()
	got := c.of("warn-only")
	if len(got) != 1 || got[0].level != slog.LevelWarn || !strings.Contains(got[0].message, "closed -> open") {
		t.Fatalf("a Warn logger got %+v, want the one opening", got)
	}

	breakwater.SetLogger(nil)
	cb.ForceOpen() // would be a WARN record
	breakwater.FlushLogs()
	if got := c.of("warn-only"); len(got) != 1 {
		t.Fatalf("after SetLogger(nil): %d records, want none more", len(got)-1)
	}
}

func TestSlogRecordsFromManyThreadsAllArrive(t *testing.T) {
	c := useLogger(t, slog.LevelInfo)
	reg := breakwater.NewRegistry()
	defer reg.Close()
	clock := breakwater.NewManualClock()
	defer clock.Close()
	const n = 16
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cb, err := reg.CircuitBreaker(fmt.Sprintf("many-%d", i),
				breakwater.BreakerSettings{ConsecutiveFailures: 1}, breakwater.WithClock(clock))
			if err != nil {
				t.Error(err)
				return
			}
			defer cb.Close()
			_ = cb.Execute(func() error { return errors.New("down") })
		}(i)
	}
	wg.Wait()
	breakwater.FlushLogs()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("many-%d", i)
		got := c.of(name)
		if len(got) != 1 || got[0].message != "breaker "+name+": closed -> open (1 consecutive failures)" &&
			got[0].message != "breaker "+name+": closed -> open (1 consecutive failure)" {
			t.Errorf("%s: %+v, want its one opening", name, got)
		}
	}
}

func TestAPanickingSlogHandlerLosesOnlyItsRecord(t *testing.T) {
	c := useLogger(t, slog.LevelInfo)
	c.mu.Lock()
	c.panics = true
	c.mu.Unlock()
	reg := breakwater.NewRegistry()
	defer reg.Close()
	clock := breakwater.NewManualClock()
	defer clock.Close()
	cb := tripped(t, reg, "panicky", clock)
	breakwater.FlushLogs() // returns although the handler panicked
	c.mu.Lock()
	c.panics = false
	c.mu.Unlock()
	cb.Reset()
	breakwater.FlushLogs()
	got := c.of("panicky")
	if len(got) != 1 || got[0].message != "breaker panicky: open -> closed (reset)" {
		t.Fatalf("after a panic in the handler: %+v, want the reset's record", got)
	}
}

func TestSlogRecordFromAThreadGoNeverSaw(t *testing.T) {
	c := useLogger(t, slog.LevelInfo)
	if !forceOpenOnCThread("cthread") {
		t.Fatal("the C thread could not build and force open its breaker")
	}
	breakwater.FlushLogs()
	got := c.of("cthread")
	if len(got) != 1 || got[0].level != slog.LevelWarn || got[0].message != "breaker cthread: closed -> forced-open (forced open)" {
		t.Fatalf("the record of a C thread: %+v", got)
	}
}

// blocking is a capture whose handler waits for release on its first record.
type blocking struct {
	*capture
	first   sync.Once
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) Handle(ctx context.Context, r slog.Record) error {
	b.first.Do(func() {
		close(b.entered)
		<-b.release
	})
	return b.capture.Handle(ctx, r)
}

func TestASlowLoggerLosesRecordsCountedInOneWarning(t *testing.T) {
	useLogger(t, slog.LevelInfo)
	b := &blocking{capture: &capture{level: slog.LevelInfo}, entered: make(chan struct{}), release: make(chan struct{})}
	breakwater.SetLogger(slog.New(b))
	cb, err := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{Name: "flood"})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	cb.ForceOpen()
	<-b.entered // the logger is stuck on the first record
	const rounds = 3000
	for i := 0; i < rounds; i++ {
		cb.Reset()
		cb.ForceOpen()
	}
	close(b.release)
	breakwater.FlushLogs()

	produced := 1 + 2*rounds
	delivered := len(b.of("flood"))
	dropped := 0
	b.mu.Lock()
	for _, r := range b.records {
		if strings.Contains(r.message, "log records dropped") {
			var n int
			if _, err := fmt.Sscanf(r.message, "breakwater: %d log records dropped", &n); err != nil || r.level != slog.LevelWarn {
				t.Errorf("the warning %v %q", r.level, r.message)
			}
			dropped += n
		}
	}
	b.mu.Unlock()
	if dropped == 0 || delivered+dropped != produced {
		t.Fatalf("%d records delivered and %d dropped, want some dropped and %d in all", delivered, dropped, produced)
	}
	if delivered > 4096+1 {
		t.Fatalf("%d records delivered: the queue should hold at most 4096 behind the logger", delivered)
	}
}

// The text is OpenMetrics, and the library names its content type.
func TestPrometheusTextIsOpenMetricsWithTheLibrarysContentType(t *testing.T) {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	text, err := reg.Prometheus()
	if err != nil || text != "# EOF\n" {
		t.Fatalf("empty registry: %q, %v", text, err)
	}
	if ct := breakwater.PrometheusContentType(); ct != "application/openmetrics-text; version=1.0.0; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
}
