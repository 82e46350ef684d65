// A service exposing its breakwater policies: /metrics for Prometheus (client_golang's
// promhttp over the bindings/go/prometheus collector) and /health (the registry's
// report, 503 while a breaker is open), with the library's log records (breaker
// transitions) in log/slog on stderr.
//
//	go run .                       # serve on 127.0.0.1:8080 until interrupted
//	go run . -requests 10          # serve 10 requests, then exit
//	go run . -once                 # script an outage, print /health and /metrics, exit
//
// A goroutine calls the "authors" dependency through a breaker every 100 ms; the
// dependency is down for 3 s of every 10 s, so the breaker opens, tries again after
// 2 s and closes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
	bwprom "github.com/breakwater-rs/breakwater/bindings/go/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var errDown = errors.New("authors is down")

// authorsUp says whether the simulated dependency answers.
var authorsUp atomic.Bool

func callAuthors(cb *bw.CircuitBreaker, limiter *bw.RateLimiter) error {
	if !limiter.Allow() {
		return bw.ErrRateLimited
	}
	return cb.Execute(func() error {
		if !authorsUp.Load() {
			return errDown
		}
		return nil
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	once := flag.Bool("once", false, "script an outage, print /health and /metrics, and exit")
	requests := flag.Int("requests", 0, "exit after serving this many requests (0: never)")
	flag.Parse()

	// The library's records (transitions at Info and Warn) in the service's own log.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	bw.SetLogger(slog.Default())
	defer bw.FlushLogs()

	reg := bw.NewRegistry()
	defer reg.Close()
	authors, err := reg.CircuitBreaker("authors", bw.BreakerSettings{ConsecutiveFailures: 3, OpenDuration: 2 * time.Second})
	check(err)
	defer authors.Close()
	limiter, err := reg.RateLimiter("authors-calls", bw.RateLimiterConfig{Permits: 50, Period: time.Second})
	check(err)
	defer limiter.Close()

	promReg := prometheus.NewRegistry()
	promReg.MustRegister(bwprom.NewCollector(reg), collectors.NewGoCollector())

	served := make(chan struct{}, 1024)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
	mux.Handle("/health", reg.HealthHandler())
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		served <- struct{}{}
	})

	listener, err := net.Listen("tcp", *addr)
	check(err)
	server := &http.Server{Handler: counted, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = server.Serve(listener) }()
	defer server.Shutdown(context.Background())
	base := "http://" + listener.Addr().String()

	authorsUp.Store(true)
	if *once {
		scriptedOutage(base, authors, limiter)
		return
	}

	slog.Info("serving", "metrics", base+"/metrics", "health", base+"/health")
	go traffic(authors, limiter)
	for n := 0; *requests == 0 || n < *requests; n++ {
		<-served
	}
}

// traffic calls authors every 100 ms; authors is down for 3 s of every 10 s.
func traffic(cb *bw.CircuitBreaker, limiter *bw.RateLimiter) {
	start := time.Now()
	for range time.Tick(100 * time.Millisecond) {
		authorsUp.Store(time.Since(start)%(10*time.Second) < 7*time.Second)
		_ = callAuthors(cb, limiter)
	}
}

// scriptedOutage trips the breaker, shows /health and /metrics while it is open, then
// lets a trial succeed and shows /health again.
func scriptedOutage(base string, cb *bw.CircuitBreaker, limiter *bw.RateLimiter) {
	for i := 0; i < 2; i++ {
		_ = callAuthors(cb, limiter)
	}
	authorsUp.Store(false)
	for i := 0; i < 5; i++ {
		_ = callAuthors(cb, limiter) // 3 failures, then 2 instant rejections
	}
	bw.FlushLogs()
	show(base + "/health")
	show(base + "/metrics")

	authorsUp.Store(true)
	cb.TransitionToHalfOpen() // instead of waiting the open duration
	_ = callAuthors(cb, limiter)
	bw.FlushLogs()
	show(base + "/health")
}

// show prints what GET url answers: the status and the body (breakwater's lines only,
// for /metrics).
func show(url string) {
	resp, err := http.Get(url)
	check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	check(err)
	fmt.Printf("GET %s -> %s\n", url[strings.LastIndex(url, "/"):], resp.Status)
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if !strings.HasSuffix(url, "/metrics") || strings.HasPrefix(line, "breakwater_") {
			fmt.Println("  " + line)
		}
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
