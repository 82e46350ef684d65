package prometheus_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	breakwater "github.com/breakwater-rs/breakwater/bindings/go"
	bwprom "github.com/breakwater-rs/breakwater/bindings/go/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var errDown = errors.New("authors is down")

// policies is a registry with one policy of each kind, driven through a scripted outage
// on a manual clock so that every counter has a distinct value.
type policies struct {
	reg      *breakwater.Registry
	clock    *breakwater.ManualClock
	breaker  *breakwater.CircuitBreaker
	bulkhead *breakwater.Bulkhead
	limiter  *breakwater.RateLimiter
}

func newPolicies(t *testing.T) *policies {
	t.Helper()
	p := &policies{reg: breakwater.NewRegistry(), clock: breakwater.NewManualClock()}
	t.Cleanup(func() {
		for _, c := range []interface{ Close() error }{p.breaker, p.bulkhead, p.limiter, p.reg, p.clock} {
			_ = c.Close()
		}
	})
	var err error
	p.breaker, err = p.reg.CircuitBreaker("authors", breakwater.BreakerSettings{
		ConsecutiveFailures: 3, OpenDuration: time.Second}, breakwater.WithClock(p.clock))
	if err != nil {
		t.Fatal(err)
	}
	p.bulkhead, err = p.reg.Bulkhead("email", breakwater.BulkheadConfig{MaxConcurrent: 3})
	if err != nil {
		t.Fatal(err)
	}
	p.limiter, err = p.reg.RateLimiter("api", breakwater.RateLimiterConfig{
		Permits: 5, Period: time.Second, Clock: p.clock})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// outage: 4 successes, 3 failures (open), 2 rejections, a failed trial (open again), a
// rejection, a good trial (closed), 1 success: 10 calls admitted, 3 rejected, 2 openings. Bulkhead: 3 of 3 permits taken, 2
// refused, 1 given back. Limiter: 5 granted, 3 refused.
func (p *policies) outage(t *testing.T) {
	t.Helper()
	call := func(err error) { _ = p.breaker.Execute(func() error { return err }) }
	for i := 0; i < 4; i++ {
		call(nil)
	}
	for i := 0; i < 5; i++ {
		call(errDown)
	}
	p.clock.Advance(time.Second)
	call(errDown)
	call(nil)
	p.clock.Advance(time.Second)
	call(nil)
	call(nil)
	for i := 0; i < 5; i++ {
		p.bulkhead.TryAcquire()
	}
	if err := p.bulkhead.Release(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		p.limiter.Allow()
	}
	if s := p.breaker.State(); s != breakwater.StateClosed {
		t.Fatalf("the scripted outage should end closed, got %v", s)
	}
}

// parse reads the library's text with expfmt's parser (through bwprom.Families, which
// puts OpenMetrics counters back together).
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := bwprom.Families(text)
	if err != nil {
		t.Fatalf("expfmt cannot parse the library's text: %v\n%s", err, text)
	}
	return families
}

// value is the value of the sample of family name whose labels include want.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	mf, ok := families[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	var found []float64
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			found = append(found, m.GetCounter().GetValue())
		case dto.MetricType_GAUGE:
			found = append(found, m.GetGauge().GetValue())
		default:
			t.Fatalf("family %s has type %v, want a counter or a gauge", name, mf.GetType())
		}
	}
	if len(found) != 1 {
		t.Fatalf("family %s: %d samples with labels %v, want 1", name, len(found), want)
	}
	return found[0]
}

func checkType(t *testing.T, families map[string]*dto.MetricFamily, name string, want dto.MetricType) {
	t.Helper()
	if got := families[name].GetType(); got != want {
		t.Errorf("family %s has type %v, want %v", name, got, want)
	}
}

func TestTextParsedByExpfmtEqualsEachPolicysMetrics(t *testing.T) {
	p := newPolicies(t)
	p.outage(t)
	text, err := p.reg.Prometheus()
	if err != nil {
		t.Fatal(err)
	}
	f := parse(t, text)

	b := map[string]string{"breaker": "authors"}
	bm := p.breaker.Metrics()
	if bm.TotalRequests != 10 || bm.Opened != 2 || bm.RejectedOpen != 3 {
		t.Fatalf("unexpected breaker metrics after the scripted outage: %+v", bm)
	}
	for name, want := range map[string]uint64{
		"breakwater_breaker_requests_total":    bm.TotalRequests,
		"breakwater_breaker_successes_total":   bm.TotalSuccesses,
		"breakwater_breaker_failures_total":    bm.TotalFailures,
		"breakwater_breaker_ignored_total":     bm.TotalIgnored,
		"breakwater_breaker_transitions_total": bm.Transitions,
		"breakwater_breaker_opened_total":      bm.Opened,
	} {
		checkType(t, f, name, dto.MetricType_COUNTER)
		if got := value(t, f, name, b); got != float64(want) {
			t.Errorf("%s = %v, Metrics() says %d", name, got, want)
		}
	}
	for reason, want := range map[string]uint64{
		"open": bm.RejectedOpen, "trial_full": bm.RejectedTrialFull, "forced_open": bm.RejectedForcedOpen,
	} {
		got := value(t, f, "breakwater_breaker_rejected_total", map[string]string{"breaker": "authors", "reason": reason})
		if got != float64(want) {
			t.Errorf("breakwater_breaker_rejected_total{reason=%q} = %v, Metrics() says %d", reason, got, want)
		}
	}
	checkType(t, f, "breakwater_breaker_state", dto.MetricType_GAUGE)
	if got := value(t, f, "breakwater_breaker_state", b); got != float64(bm.State) {
		t.Errorf("breakwater_breaker_state = %v, Metrics() says %d (%v)", got, bm.State, bm.State)
	}

	hm := p.bulkhead.Metrics()
	if hm.InUse != 2 || hm.Rejected != 2 || hm.Peak != 3 {
		t.Fatalf("unexpected bulkhead metrics: %+v", hm)
	}
	h := map[string]string{"bulkhead": "email"}
	for name, want := range map[string]uint64{
		"breakwater_bulkhead_in_use":         hm.InUse,
		"breakwater_bulkhead_available":      hm.Available,
		"breakwater_bulkhead_waiting":        hm.Waiting,
		"breakwater_bulkhead_max":            hm.Max,
		"breakwater_bulkhead_peak":           hm.Peak,
		"breakwater_bulkhead_acquired_total": hm.Acquired,
		"breakwater_bulkhead_rejected_total": hm.Rejected,
	} {
		if got := value(t, f, name, h); got != float64(want) {
			t.Errorf("%s = %v, Metrics() says %d", name, got, want)
		}
	}
	checkType(t, f, "breakwater_bulkhead_acquired_total", dto.MetricType_COUNTER)
	checkType(t, f, "breakwater_bulkhead_in_use", dto.MetricType_GAUGE)

	lm := p.limiter.Metrics()
	if lm.Permitted != 5 || lm.Rejected != 3 {
		t.Fatalf("unexpected limiter metrics: %+v", lm)
	}
	l := map[string]string{"limiter": "api"}
	for name, want := range map[string]uint64{
		"breakwater_rate_limiter_permitted_total": lm.Permitted,
		"breakwater_rate_limiter_rejected_total":  lm.Rejected,
		"breakwater_rate_limiter_waited_total":    lm.Waited,
		"breakwater_rate_limiter_available":       lm.Available,
	} {
		if got := value(t, f, name, l); got != float64(want) {
			t.Errorf("%s = %v, Metrics() says %d", name, got, want)
		}
	}
	checkType(t, f, "breakwater_rate_limiter_permitted_total", dto.MetricType_COUNTER)
	checkType(t, f, "breakwater_rate_limiter_available", dto.MetricType_GAUGE)
}

// sample is one gathered sample, comparable across the parser and the registry.
type sample struct {
	family, help, labels string
	kind                 dto.MetricType
	value                float64
}

func samples(families []*dto.MetricFamily) []sample {
	var out []sample
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(pairs)
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			out = append(out, sample{mf.GetName(), mf.GetHelp(), strings.Join(pairs, ","), mf.GetType(), v})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].family != out[j].family {
			return out[i].family < out[j].family
		}
		return out[i].labels < out[j].labels
	})
	return out
}

func TestCollectorGatheredFromAPrometheusRegistryIsTheLibrarysText(t *testing.T) {
	p := newPolicies(t)
	p.outage(t)
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(bwprom.NewCollector(p.reg))
	gathered, err := promReg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	text, err := p.reg.Prometheus()
	if err != nil {
		t.Fatal(err)
	}
	parsed := parse(t, text)
	var want []*dto.MetricFamily
	for _, mf := range parsed {
		want = append(want, mf)
	}
	got, exp := samples(gathered), samples(want)
	if len(got) != len(exp) || len(got) < 20 {
		t.Fatalf("gathered %d samples, the library's text has %d", len(got), len(exp))
	}
	for i := range got {
		if got[i] != exp[i] {
			t.Errorf("sample %d: gathered %+v, the library's text says %+v", i, got[i], exp[i])
		}
	}
	// The numbers move with the policies: a second scrape sees the new counts.
	p.limiter.Allow()
	gathered, err = promReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range gathered {
		if mf.GetName() == "breakwater_rate_limiter_rejected_total" {
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 4 {
				t.Errorf("after one more refusal breakwater_rate_limiter_rejected_total = %v, want 4", v)
			}
		}
	}
}

func TestCollectorOfAnEmptyRegistryGathersNothing(t *testing.T) {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(bwprom.NewCollector(reg))
	gathered, err := promReg.Gather()
	if err != nil || len(gathered) != 0 {
		t.Fatalf("Gather of an empty registry: %d families, %v", len(gathered), err)
	}
}

func TestCollectorBesideGoCollectorsServedByPromhttp(t *testing.T) {
	p := newPolicies(t)
	p.outage(t)
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(bwprom.NewCollector(p.reg), prometheus.NewGoCollector())
	// Two collectors over registries with disjoint policies coexist.
	other := breakwater.NewRegistry()
	defer other.Close()
	cb, err := other.CircuitBreaker("prices", breakwater.BreakerSettings{})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	promReg.MustRegister(bwprom.NewCollector(other))

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(promReg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("promhttp answered %d: %s", rec.Code, rec.Body.String())
	}
	body := rec.Body.String()
	served := parse(t, body)
	if v := value(t, served, "breakwater_breaker_opened_total", map[string]string{"breaker": "authors"}); v != 2 {
		t.Errorf("served breakwater_breaker_opened_total{breaker=authors} = %v, want 2", v)
	}
	if v := value(t, served, "breakwater_breaker_state", map[string]string{"breaker": "prices"}); v != 0 {
		t.Errorf("served breakwater_breaker_state{breaker=prices} = %v, want 0", v)
	}
	if _, ok := served["go_goroutines"]; !ok {
		t.Error("the Go collector's families are missing beside breakwater's")
	}
}

func TestMetricsAfterCloseIsAPanicNotAHang(t *testing.T) {
	reg := breakwater.NewRegistry()
	_ = reg.Close()
	defer func() {
		if recover() == nil {
			t.Fatal("collecting a closed registry should panic, as every use after Close does")
		}
	}()
	_, _ = bwprom.Metrics(reg)
}

// The library's text is OpenMetrics: expfmt alone splits a counter into an empty typed
// family and an untyped family of samples; Families puts them back together, and leaves
// a classic text as it is.
func TestFamiliesPutsOpenMetricsCountersBackTogether(t *testing.T) {
	p := newPolicies(t)
	p.outage(t)
	text, err := p.reg.Prometheus()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(text, "# EOF\n") || !strings.Contains(text, "# TYPE breakwater_breaker_opened counter\n") {
		t.Fatalf("the library's text is not the OpenMetrics this test expects:\n%s", text)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	raw, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["breakwater_breaker_opened"]; ok || raw["breakwater_breaker_opened_total"].GetType() != dto.MetricType_UNTYPED {
		t.Fatalf("expfmt now reads OpenMetrics counters itself: Families may be simplified")
	}
	fixed := parse(t, text)
	if _, ok := fixed["breakwater_breaker_opened"]; ok {
		t.Error("the empty counter family is still there")
	}
	f := fixed["breakwater_breaker_opened_total"]
	if f.GetType() != dto.MetricType_COUNTER || !strings.Contains(text, "# HELP breakwater_breaker_opened "+f.GetHelp()+"\n") || f.GetHelp() == "" {
		t.Errorf("breakwater_breaker_opened_total: type %v help %q", f.GetType(), f.GetHelp())
	}
	for _, m := range f.GetMetric() {
		if m.Untyped != nil || m.Counter == nil {
			t.Errorf("sample %v is not a counter", m)
		}
	}
	classic := "# HELP x_total things\n# TYPE x_total counter\nx_total 3\n# TYPE y gauge\ny 1\n"
	same := parse(t, classic)
	if len(same) != 2 || same["x_total"].GetMetric()[0].GetCounter().GetValue() != 3 || same["y"].GetType() != dto.MetricType_GAUGE {
		t.Errorf("a classic text changed: %v", same)
	}
}
