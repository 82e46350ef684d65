// The Go counterpart of benches/redis.rs: a breaker shared through Redis, breakwater's
// (SharedCircuitBreaker, through the Go binding) against gobreaker v2's
// DistributedCircuitBreaker (a SharedDataStore over go-redis, written here as gobreaker's
// documentation describes one: SET NX PX for the lock, GET/SET for the state).
//
// What it prints, for each breaker: the cost of a closed-state success (one goroutine),
// the throughput of 8 goroutines, and the Redis commands per guarded call (the server's
// total_commands_processed before and after). Run it with benches/redis/go/run.sh, which
// starts a redis-server on a free loopback port; not a test (timings go here, never in
// tests).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// store is a gobreaker SharedDataStore over go-redis.
type store struct {
	c *redis.Client
}

func (s store) Lock(name string) error {
	ok, err := s.c.SetNX(context.Background(), name, "1", 5*time.Second).Result()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("locked")
	}
	return nil
}

func (s store) Unlock(name string) error {
	return s.c.Del(context.Background(), name).Err()
}

func (s store) GetData(name string) ([]byte, error) {
	b, err := s.c.Get(context.Background(), name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}

func (s store) SetData(name string, data []byte) error {
	return s.c.Set(context.Background(), name, data, 0).Err()
}

func commands(c *redis.Client) uint64 {
	info, err := c.Info(context.Background(), "stats").Result()
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	panic("no total_commands_processed")
}

type guarded func() error

// perCall is the best of 5 runs of n sequential calls, per call.
func perCall(f guarded, n int) time.Duration {
	best := time.Duration(1<<63 - 1)
	for r := 0; r < 5; r++ {
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := f(); err != nil {
				panic(err)
			}
		}
		if d := time.Since(start) / time.Duration(n); d < best {
			best = d
		}
	}
	return best
}

// throughput is the calls per second of g goroutines for d.
func throughput(f guarded, g int, d time.Duration) float64 {
	var wg sync.WaitGroup
	counts := make([]int, g)
	stop := time.Now().Add(d)
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := f(); err != nil {
					panic(err)
				}
				counts[w]++
			}
		}(w)
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	return float64(total) / d.Seconds()
}

func main() {
	url := os.Getenv("BW_REDIS_URL")
	if url == "" {
		fmt.Fprintln(os.Stderr, "BW_REDIS_URL is not set (benches/redis/go/run.sh starts a server)")
		os.Exit(2)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		panic(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()

	shared, err := bw.NewSharedCircuitBreaker(bw.SharedBreakerSettings{
		Breaker: bw.BreakerSettings{Name: "bench", ConsecutiveFailures: 1000},
		Redis:   bw.RedisOptions{URL: url, KeyPrefix: "gobench"},
	})
	if err != nil {
		panic(err)
	}
	defer shared.Close()
	if shared.Health() != bw.HealthUp {
		panic("the shared breaker does not reach Redis")
	}
	local, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1000})
	if err != nil {
		panic(err)
	}
	defer local.Close()
	settings := gobreaker.Settings{Name: "bench",
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1000 }}
	dist, err := gobreaker.NewDistributedCircuitBreaker[struct{}](store{rc}, settings)
	if err != nil {
		panic(err)
	}
	gbLocal := gobreaker.NewCircuitBreaker[struct{}](settings)

	noop := func() error { return nil }
	gnoop := func() (struct{}, error) { return struct{}{}, nil }
	cases := []struct {
		name string
		f    guarded
		n    int
	}{
		{"breakwater local CircuitBreaker.Execute", func() error { return local.Execute(noop) }, 200000},
		{"breakwater SharedCircuitBreaker.Execute", func() error { return shared.Execute(noop) }, 200000},
		{"gobreaker CircuitBreaker.Execute", func() error { _, err := gbLocal.Execute(gnoop); return err }, 200000},
		{"gobreaker DistributedCircuitBreaker.Execute", func() error { _, err := dist.Execute(gnoop); return err }, 2000},
	}
	fmt.Println("closed-state success, one goroutine (best of 5):")
	for _, c := range cases {
		fmt.Printf("  %-45s %10v/call\n", c.name, perCall(c.f, c.n))
	}
	fmt.Println("Redis commands per guarded call (server's total_commands_processed):")
	for _, i := range []int{1, 3} {
		c := cases[i]
		before := commands(rc)
		for i := 0; i < 1000; i++ {
			_ = c.f()
		}
		if c.name == "breakwater SharedCircuitBreaker.Execute" {
			_ = shared.Flush() // the batch of these calls, sent now
		}
		// -1: the INFO that reads the count after.
		fmt.Printf("  %-45s %8.3f\n", c.name, float64(commands(rc)-before-1)/1000)
	}
	fmt.Println("8 goroutines, 2 s each:")
	for _, c := range []int{1, 3} {
		fmt.Printf("  %-45s %12.0f calls/s\n", cases[c].name, throughput(cases[c].f, 8, 2*time.Second))
	}
}
