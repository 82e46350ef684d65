// Smoke test of the Go module from outside the repository (scripts/suites/packaging.sh):
// built in a temporary module with a replace directive only, then run from another folder.
package main

import (
	"errors"
	"fmt"
	"os"

	breakwater "github.com/breakwater-rs/breakwater/bindings/go"
)

func main() {
	fmt.Println("breakwater", breakwater.Version())
	cb, err := breakwater.NewCircuitBreaker(breakwater.BreakerSettings{Name: "authors", ConsecutiveFailures: 2})
	if err != nil {
		fmt.Println("config:", err)
		os.Exit(1)
	}
	defer cb.Close()
	down := errors.New("authors is down")
	for i := 0; i < 2; i++ {
		_ = cb.Execute(func() error { return down })
	}
	err = cb.Execute(func() error { return nil })
	fmt.Println("third call:", err)
	if !errors.Is(err, breakwater.ErrCircuitOpen) {
		os.Exit(1)
	}
}
