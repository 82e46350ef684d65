// The outage exercise in Go: a dependency fails, the breaker opens, the fallback
// answers, the dependency recovers, the breaker closes. On a manual clock: instant.
package main

import (
	"errors"
	"fmt"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

var dependencyUp = true

func fetchPrice() (int, error) {
	if !dependencyUp {
		return 0, errors.New("prices service down")
	}
	return 42, nil
}

func price(b *bw.CircuitBreaker) int {
	var p int
	err := b.Execute(func() (err error) {
		p, err = fetchPrice()
		return err
	})
	if err != nil {
		return -1 // the fallback: a cached or default answer
	}
	return p
}

func step(b *bw.CircuitBreaker, label string) {
	fmt.Printf("%s: %d\n", label, price(b))
	for _, t := range b.PollEvents() {
		fmt.Printf("  [t=%2.0fs] %v -> %v (%s)\n", t.At.Seconds(), t.From, t.To, t.Reason)
	}
}

func main() {
	clock := bw.NewManualClock()
	defer clock.Close()
	b, err := bw.NewCircuitBreaker(bw.BreakerSettings{
		Name: "prices", ConsecutiveFailures: 3, OpenDuration: 10 * time.Second,
	}, bw.WithClock(clock))
	if err != nil {
		panic(err)
	}
	defer b.Close()

	step(b, "price")
	dependencyUp = false
	fmt.Println("the dependency goes down")
	for i := 0; i < 5; i++ {
		step(b, "price")
	}
	clock.Advance(10 * time.Second)
	step(b, "price (trial, still down)")
	dependencyUp = true
	fmt.Println("the dependency recovers")
	clock.Advance(10 * time.Second)
	step(b, "price")
	m := b.Metrics()
	fmt.Printf("calls: %d, rejected while open: %d\n", m.TotalRequests, m.RejectedOpen)
}
