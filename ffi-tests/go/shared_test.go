package gotests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

// The shared (Redis-backed) policies. Skipped when the library was built without the
// redis feature; the tests against a server are skipped unless BW_REDIS_URL is set
// (scripts/suites/redis.sh starts a redis-server and sets it).

const unreachable = "redis://127.0.0.1:1/"

func needFeature(t *testing.T) {
	t.Helper()
	if bw.SharedBreakerDefaultsJSON() == "" {
		_, err := bw.NewSharedCircuitBreaker(bw.SharedBreakerSettings{})
		if !errors.Is(err, bw.ErrInvalidConfig) || !strings.Contains(err.Error(), "built without the redis feature") {
			t.Fatalf("without the feature: %v", err)
		}
		t.Skip("the library was built without the redis feature")
	}
}

func needServer(t *testing.T) string {
	t.Helper()
	needFeature(t)
	url := os.Getenv("BW_REDIS_URL")
	if url == "" {
		t.Skip("BW_REDIS_URL is not set")
	}
	return url
}

// prefix is a key prefix of its own for each test run (pid and a counter), so that
// repeated runs in one process (go test -count=N) never share Redis state.
func prefix() string {
	return fmt.Sprintf("gotest%d-%d", os.Getpid(), prefixes.Add(1))
}

var prefixes atomic.Int64

func TestSharedDefaultsComeFromTheLibrary(t *testing.T) {
	needFeature(t)
	if d := bw.SharedBreakerDefaultsJSON(); !strings.Contains(d, `"redis_url":"redis://127.0.0.1:6379/"`) {
		t.Fatal(d)
	}
	if d := bw.SharedRateLimiterDefaultsJSON(); !strings.Contains(d, `"lease":1`) {
		t.Fatal(d)
	}
	if !strings.Contains(bw.SharedBreakerSchemaJSON(), "poll_interval_ms") || bw.SharedRateLimiterSchemaJSON() == "" {
		t.Fatal("schemas")
	}
	if bw.RedisHealthDegraded.String() != "DEGRADED" || bw.RedisHealthUp.String() != "UP" {
		t.Fatal(bw.RedisHealthDegraded.String())
	}
}

func TestSharedBadURLIsAClearConfigError(t *testing.T) {
	needFeature(t)
	_, err := bw.NewSharedCircuitBreaker(bw.SharedBreakerSettings{Redis: bw.RedisOptions{URL: "http://x"}})
	if !errors.Is(err, bw.ErrInvalidConfig) || !strings.Contains(err.Error(), "redis_url") {
		t.Fatalf("got %v", err)
	}
	_, err = bw.NewSharedCircuitBreakerJSON(`{"poll_interval_ms": 0}`)
	if !errors.Is(err, bw.ErrInvalidConfig) || !strings.Contains(err.Error(), "poll_interval_ms") {
		t.Fatalf("got %v", err)
	}
	_, err = bw.NewSharedRateLimiter(bw.SharedRateLimiterSettings{Permits: 10, Lease: 11, Redis: bw.RedisOptions{URL: unreachable}})
	if !errors.Is(err, bw.ErrInvalidConfig) || !strings.Contains(err.Error(), "lease") {
		t.Fatalf("got %v", err)
	}
}

func TestSharedUnreachableRedisWorksLocallyAndIsDegraded(t *testing.T) {
	needFeature(t)
	b, err := bw.NewSharedCircuitBreaker(bw.SharedBreakerSettings{
		Breaker: bw.BreakerSettings{Name: "authors", ConsecutiveFailures: 2},
		Redis:   bw.RedisOptions{URL: unreachable, OpTimeout: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Health() != bw.RedisHealthDegraded {
		t.Fatal(b.Health())
	}
	if err := b.Execute(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	p, err := b.Allow()
	if err != nil || !p.Local() {
		t.Fatal(err)
	}
	if err := p.Failure(); err != nil {
		t.Fatal(err)
	}
	down := errors.New("down")
	if err := b.Execute(func() error { return down }); err != down {
		t.Fatal(err)
	}
	if err := b.Execute(func() error { return nil }); !errors.Is(err, bw.ErrCircuitOpen) {
		t.Fatalf("got %v", err)
	}
	m := b.Metrics()
	if m.State != bw.StateOpen || m.Health != bw.RedisHealthDegraded || m.TotalFailures != 2 || m.RejectedOpen != 1 || m.RedisErrors == 0 {
		t.Fatalf("%+v", m)
	}
	if err := b.Flush(); !errors.Is(err, bw.ErrFailed) {
		t.Fatalf("got %v", err)
	}

	l, err := bw.NewSharedRateLimiter(bw.SharedRateLimiterSettings{Permits: 1, Period: time.Minute,
		Redis: bw.RedisOptions{URL: unreachable, OpTimeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.Allow() || l.Allow() || l.Health() != bw.RedisHealthDegraded {
		t.Fatal("local quota")
	}
	if err := l.TryAcquire(); !errors.Is(err, bw.ErrRateLimited) {
		t.Fatalf("got %v", err)
	}
}

func TestSharedRegistryByName(t *testing.T) {
	needFeature(t)
	r := bw.NewRegistry()
	defer r.Close()
	s := bw.SharedBreakerSettings{Breaker: bw.BreakerSettings{ConsecutiveFailures: 1},
		Redis: bw.RedisOptions{URL: unreachable, OpTimeout: 50 * time.Millisecond}}
	a, err := r.SharedCircuitBreaker("db", s)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := r.SharedCircuitBreaker("db", bw.SharedBreakerSettings{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_ = a.Execute(func() error { return errors.New("x") })
	if b.State() != bw.StateOpen {
		t.Fatal(b.State())
	}
	s.Breaker.ConsecutiveFailures = 2
	if _, err := r.SharedCircuitBreaker("db", s); !errors.Is(err, bw.ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	l, err := r.SharedRateLimiter("api", bw.SharedRateLimiterSettings{Permits: 1, Period: time.Minute, Redis: s.Redis})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l2, err := r.SharedRateLimiter("api", bw.SharedRateLimiterSettings{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if !l.Allow() || l2.Allow() {
		t.Fatal("one limiter")
	}
}

func sharedTrip(url string) bw.SharedBreakerSettings {
	return bw.SharedBreakerSettings{
		Breaker: bw.BreakerSettings{Name: "trip", ConsecutiveFailures: 3, OpenDuration: time.Minute},
		Redis:   bw.RedisOptions{URL: url, KeyPrefix: os.Getenv("BW_SHARED_PREFIX")},
	}
}

// The child process of TestSharedAnotherProcessTripsTheBreaker (does nothing when run
// directly).
func TestSharedChildTrips(t *testing.T) {
	url := os.Getenv("BW_SHARED_CHILD")
	if url == "" {
		return
	}
	b, err := bw.NewSharedCircuitBreaker(sharedTrip(url))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := 0; i < 3; i++ {
		_ = b.Execute(func() error { return errors.New("down") })
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("child: %s %d\n", b.State(), b.Metrics().Opened)
}

func TestSharedAnotherProcessTripsTheBreaker(t *testing.T) {
	url := needServer(t)
	t.Setenv("BW_SHARED_PREFIX", prefix())
	b, err := bw.NewSharedCircuitBreaker(sharedTrip(url))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Health() != bw.RedisHealthUp {
		t.Fatal(b.Health())
	}
	if err := b.Execute(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSharedChildTrips$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BW_SHARED_CHILD="+url)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: open 1") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := b.Execute(func() error { return nil })
		if errors.Is(err, bw.ErrCircuitOpen) {
			var e *bw.Error
			if !errors.As(err, &e) || !e.HasRetryAfter || e.RetryAfter <= 0 {
				t.Fatalf("got %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the trip did not reach this process")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m := b.Metrics(); m.Opened != 1 || m.State != bw.StateOpen || m.Health != bw.RedisHealthUp {
		t.Fatalf("%+v", m)
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := b.Execute(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestSharedFleetQuota(t *testing.T) {
	url := needServer(t)
	s := bw.SharedRateLimiterSettings{Name: "quota", Permits: 4, Period: time.Minute,
		Redis: bw.RedisOptions{URL: url, KeyPrefix: prefix()}}
	a, err := bw.NewSharedRateLimiter(s)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := bw.NewSharedRateLimiter(s)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	granted := 0
	for i := 0; i < 10; i++ {
		l := a
		if i%2 == 1 {
			l = b
		}
		if l.Allow() {
			granted++
		}
	}
	if granted != 4 {
		t.Fatalf("granted %d of a fleet quota of 4", granted)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := a.Wait(ctx); !errors.Is(err, bw.ErrRateLimited) {
		t.Fatalf("got %v", err)
	}
	if m := a.Metrics(); m.Health != bw.RedisHealthUp || m.RedisCommands == 0 {
		t.Fatalf("%+v", m)
	}
}
