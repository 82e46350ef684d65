package gotests

import (
	"strings"
	"sync"
	"testing"
	"time"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want %q", want)
		}
		if !strings.Contains(r.(string), want) {
			t.Fatalf("panic %q, want %q", r, want)
		}
	}()
	f()
}

func TestManualClockStartsAtZeroAndAdvances(t *testing.T) {
	c := bw.NewManualClock()
	defer c.Close()
	if c.Now() != 0 || c.NowNanos() != 0 {
		t.Fatalf("starts at %v", c.Now())
	}
	c.Advance(1500 * time.Millisecond)
	c.Advance(0)
	c.Advance(time.Nanosecond)
	if got := c.Now(); got != 1500*time.Millisecond+time.Nanosecond {
		t.Fatalf("now %v", got)
	}
}

func TestManualClockSaturates(t *testing.T) {
	c := bw.NewManualClock()
	defer c.Close()
	for i := 0; i < 3; i++ {
		c.Advance(time.Duration(1<<63 - 1))
	}
	if c.NowNanos() != 1<<64-1 {
		t.Fatalf("nanos %d", c.NowNanos())
	}
	if c.Now() != time.Duration(1<<63-1) {
		t.Fatalf("now %d", c.Now())
	}
}

func TestManualClockIsSharedByGoroutines(t *testing.T) {
	c := bw.NewManualClock()
	defer c.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				c.Advance(3)
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	if c.NowNanos() != 8*500*3 {
		t.Fatalf("nanos %d", c.NowNanos())
	}
}

func TestManualClockRefusesNegativeDurations(t *testing.T) {
	c := bw.NewManualClock()
	defer c.Close()
	mustPanic(t, "ManualClock.Advance(-1s): negative duration", func() { c.Advance(-time.Second) })
	if c.Now() != 0 {
		t.Fatal("moved")
	}
}

func TestAClosedClockPanics(t *testing.T) {
	c := bw.NewManualClock()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "breakwater: ManualClock used after Close", func() { c.Advance(time.Second) })
	mustPanic(t, "breakwater: ManualClock used after Close", func() { _ = c.Now() })
	m := bw.NewMonotonicClock()
	_ = m.Close()
	mustPanic(t, "breakwater: MonotonicClock used after Close", func() { _ = m.Now() })
}

func TestCloseWhileOtherGoroutinesUseTheClock(t *testing.T) {
	c := bw.NewManualClock()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = recover() }() // "used after Close" once it is closed
			for i := 0; i < 1000; i++ {
				c.Advance(1)
			}
		}()
	}
	_ = c.Close()
	wg.Wait()
}

func TestMonotonicClockMovesForward(t *testing.T) {
	var c bw.Clock = bw.NewMonotonicClock()
	defer c.Close()
	a := c.Now()
	b := c.Now()
	if a <= 0 || b < a {
		t.Fatalf("a=%v b=%v", a, b)
	}
}
