package prometheus_test

import (
	"fmt"
	"net/http"

	breakwater "github.com/breakwater-rs/breakwater/bindings/go"
	bwprom "github.com/breakwater-rs/breakwater/bindings/go/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The registry's policies on a client_golang registry, served at /metrics.
func ExampleNewCollector() {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	email, _ := reg.Bulkhead("email", breakwater.BulkheadConfig{MaxConcurrent: 4})
	defer email.Close()

	promReg := prometheus.NewRegistry()
	promReg.MustRegister(bwprom.NewCollector(reg))
	http.Handle("/metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))

	families, _ := promReg.Gather()
	for _, mf := range families {
		if mf.GetName() == "breakwater_bulkhead_max" {
			m := mf.GetMetric()[0]
			fmt.Println(mf.GetName(), m.GetLabel()[0].GetValue(), m.GetGauge().GetValue())
		}
	}
	// Output: breakwater_bulkhead_max email 4
}

// Metrics is what the collector sends on a scrape: one constant metric per sample of
// the library's text.
func ExampleMetrics() {
	reg := breakwater.NewRegistry()
	defer reg.Close()
	api, _ := reg.RateLimiter("api", breakwater.RateLimiterConfig{Permits: 2, Period: 1e9})
	defer api.Close()
	api.Allow()

	metrics, _ := bwprom.Metrics(reg)
	fmt.Println(len(metrics), "metrics: available, permitted, rejected and waited")
	// Output: 4 metrics: available, permitted, rejected and waited
}
