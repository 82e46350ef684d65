// The Go cases of scripts/bench-ratios.sh: the binding's Execute against gobreaker v2,
// closed success and open rejection, through each library's public API. The script
// copies this file into a module in a temporary folder (go.mod written there).
//
//	cases list | count CASE K | wall ROUNDS N
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
	"github.com/sony/gobreaker/v2"
)

var errDown = errors.New("down")

// wallRun is the number of calls timed at once by the wall mode.
const wallRun = 10000

//go:noinline
func noop() error { return nil }

type namedCase struct {
	name string
	f    func() bool
}

func cases() []namedCase {
	mk := func(open bool) *bw.CircuitBreaker {
		cb, err := bw.NewCircuitBreaker(bw.BreakerSettings{ConsecutiveFailures: 1, OpenDuration: time.Hour})
		if err != nil {
			panic(err)
		}
		if open {
			_ = cb.Execute(func() error { return errDown })
		}
		return cb
	}
	gb := func(open bool) *gobreaker.CircuitBreaker[struct{}] {
		cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Timeout:     time.Hour,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 },
		})
		if open {
			_, _ = cb.Execute(func() (struct{}, error) { return struct{}{}, errDown })
		}
		return cb
	}
	bwClosed, bwOpen := mk(false), mk(true)
	gbClosed, gbOpen := gb(false), gb(true)
	gnoop := func() (struct{}, error) { return struct{}{}, noop() }
	return []namedCase{
		{"go_baseline_noop", func() bool { return noop() == nil }},
		{"go_bw_closed_success", func() bool { return bwClosed.Execute(noop) == nil }},
		{"go_gobreaker_closed_success", func() bool { _, err := gbClosed.Execute(gnoop); return err == nil }},
		{"go_bw_open_rejection", func() bool { return bwOpen.Execute(noop) != nil }},
		{"go_gobreaker_open_rejection", func() bool { _, err := gbOpen.Execute(gnoop); return err != nil }},
	}
}

//go:noinline
func measured(f func() bool, k int) int {
	ok := 0
	for i := 0; i < k; i++ {
		if f() {
			ok++
		}
	}
	return ok
}

func main() {
	cs := cases()
	switch os.Args[1] {
	case "list":
		for _, c := range cs {
			fmt.Println(c.name)
		}
	case "count":
		k, _ := strconv.Atoi(os.Args[3])
		for _, c := range cs {
			if c.name == os.Args[2] {
				for i := 0; i < 1000; i++ { // warm up, not measured
					c.f()
				}
				if measured(c.f, k) != k {
					panic("unexpected answers")
				}
				return
			}
		}
		panic("unknown case")
	case "wall":
		// ROUNDS rounds of N calls a case, each cut into runs of wallRun calls,
		// interleaved across the cases: the best run of each case. A run (about a
		// millisecond) mostly fits between two preemptions on a loaded machine, where a
		// whole round of N calls never does.
		rounds, _ := strconv.Atoi(os.Args[2])
		n, _ := strconv.Atoi(os.Args[3])
		best := make([]float64, len(cs))
		for i, c := range cs {
			best[i] = 1e30
			measured(c.f, n/10)
		}
		for r := 0; r < rounds*max(1, n/wallRun); r++ {
			for i, c := range cs {
				t0 := time.Now()
				measured(c.f, wallRun)
				ns := float64(time.Since(t0).Nanoseconds()) / wallRun
				if ns < best[i] {
					best[i] = ns
				}
			}
		}
		for i, c := range cs {
			fmt.Printf("%s %.2f\n", c.name, best[i])
		}
	}
}
