// Package prometheus exports a breakwater Registry to Prometheus through client_golang:
// NewCollector is a prometheus.Collector over the registry, for a prometheus.Registry
// served by promhttp.
//
// It is a module of its own (github.com/breakwater-rs/breakwater/bindings/go/prometheus)
// so that the binding itself keeps no third-party dependency. The collector computes no
// metric in Go: on every scrape it reads the text the library writes
// (breakwater.Registry.Prometheus: families breakwater_breaker_*,
// breakwater_bulkhead_*, breakwater_rate_limiter_*; OpenMetrics 1.0, as the Rust
// prometheus-client crate writes it), parses it with expfmt's text parser (see Families),
// and hands each sample on as a constant metric with the library's name, help, type,
// labels and value.
package prometheus

import (
	"fmt"
	"sort"
	"strings"

	breakwater "github.com/breakwater-rs/breakwater/bindings/go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// collector is the Collector of NewCollector.
type collector struct {
	reg *breakwater.Registry
}

// NewCollector returns a prometheus.Collector of every policy in reg (breakers,
// bulkheads and rate limiters, those built after the call included). It is an unchecked
// collector: Describe sends nothing, since the policies (and so the metrics) change
// while the program runs. Register it with prometheus.Registry.MustRegister (or the
// default registerer) and serve the registry with promhttp.
//
// A scrape that cannot read or parse the library's text reports the error through
// promhttp (an invalid metric) instead of a partial result.
func NewCollector(reg *breakwater.Registry) prometheus.Collector {
	return &collector{reg: reg}
}

// Describe sends nothing: the collector is unchecked.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends one constant metric per sample of the library's text.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	metrics, err := Metrics(c.reg)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(err), err)
		return
	}
	for _, m := range metrics {
		ch <- m
	}
}

// Metrics returns the registry's metrics as client_golang constant metrics, in the
// order of their family names: what the collector sends on a scrape. An error when the
// library's text cannot be read or parsed, naming the problem.
func Metrics(reg *breakwater.Registry) ([]prometheus.Metric, error) {
	text, err := reg.Prometheus()
	if err != nil {
		return nil, fmt.Errorf("breakwater: reading the registry's Prometheus text: %w", err)
	}
	families, err := Families(text)
	if err != nil {
		return nil, fmt.Errorf("breakwater: parsing the registry's Prometheus text: %w", err)
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []prometheus.Metric
	for _, name := range names {
		ms, err := familyMetrics(families[name])
		if err != nil {
			return nil, fmt.Errorf("breakwater: family %s of the registry's Prometheus text: %w", name, err)
		}
		out = append(out, ms...)
	}
	return out, nil
}

// Families parses the library's text into client_model families, named and typed as
// Prometheus' classic text format has them. The library writes OpenMetrics 1.0, where a
// counter's HELP and TYPE lines name the family without its `_total` suffix and its
// samples carry it (`# TYPE breakwater_breaker_opened counter`, then
// `breakwater_breaker_opened_total{...} 2`), and the text ends with `# EOF`. expfmt's
// parser reads the classic format only: it would drop such a counter's HELP and TYPE
// (a family without samples) and read its samples as an untyped family `x_total`. So in
// an OpenMetrics text (one ending with `# EOF`) Families first renames the HELP and TYPE
// lines of each counter `x` to `x_total`, the name its samples carry; a classic text is
// parsed as it is. No name or value is made up in Go.
func Families(text string) (map[string]*dto.MetricFamily, error) {
	if strings.HasSuffix(text, "# EOF\n") {
		text = classicCounters(text)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(strings.NewReader(text))
}

// classicCounters renames the HELP and TYPE lines of every OpenMetrics counter family
// `x` to `x_total`.
func classicCounters(text string) string {
	lines := strings.Split(text, "\n")
	counters := map[string]bool{}
	for _, line := range lines {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if n, kind, found := strings.Cut(name, " "); found && kind == "counter" && !strings.HasSuffix(n, "_total") {
				counters[n] = true
			}
		}
	}
	for i, line := range lines {
		for _, prefix := range []string{"# HELP ", "# TYPE "} {
			rest, ok := strings.CutPrefix(line, prefix)
			if !ok {
				continue
			}
			if n, tail, found := strings.Cut(rest, " "); found && counters[n] {
				lines[i] = prefix + n + "_total " + tail
			}
		}
	}
	return strings.Join(lines, "\n")
}

// familyMetrics turns one parsed family into constant metrics.
func familyMetrics(mf *dto.MetricFamily) ([]prometheus.Metric, error) {
	descs := map[string]*prometheus.Desc{} // by label names
	var out []prometheus.Metric
	for _, m := range mf.GetMetric() {
		names := make([]string, 0, len(m.GetLabel()))
		values := make([]string, 0, len(m.GetLabel()))
		for _, l := range m.GetLabel() {
			names = append(names, l.GetName())
			values = append(values, l.GetValue())
		}
		key := strings.Join(names, "\x00")
		desc, ok := descs[key]
		if !ok {
			desc = prometheus.NewDesc(mf.GetName(), mf.GetHelp(), names, nil)
			descs[key] = desc
		}
		metric, err := constMetric(mf.GetType(), desc, m, values)
		if err != nil {
			return nil, err
		}
		if m.TimestampMs != nil {
			metric = prometheus.NewMetricWithTimestamp(model.Time(m.GetTimestampMs()).Time(), metric)
		}
		out = append(out, metric)
	}
	return out, nil
}

func constMetric(t dto.MetricType, desc *prometheus.Desc, m *dto.Metric, labels []string) (prometheus.Metric, error) {
	switch t {
	case dto.MetricType_COUNTER:
		return prometheus.NewConstMetric(desc, prometheus.CounterValue, m.GetCounter().GetValue(), labels...)
	case dto.MetricType_GAUGE:
		return prometheus.NewConstMetric(desc, prometheus.GaugeValue, m.GetGauge().GetValue(), labels...)
	case dto.MetricType_UNTYPED:
		return prometheus.NewConstMetric(desc, prometheus.UntypedValue, m.GetUntyped().GetValue(), labels...)
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		q := make(map[float64]float64, len(s.GetQuantile()))
		for _, x := range s.GetQuantile() {
			q[x.GetQuantile()] = x.GetValue()
		}
		return prometheus.NewConstSummary(desc, s.GetSampleCount(), s.GetSampleSum(), q, labels...)
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		b := make(map[float64]uint64, len(h.GetBucket()))
		for _, x := range h.GetBucket() {
			b[x.GetUpperBound()] = x.GetCumulativeCount()
		}
		return prometheus.NewConstHistogram(desc, h.GetSampleCount(), h.GetSampleSum(), b, labels...)
	}
	return nil, fmt.Errorf("metric type %s is not supported", t)
}
