package gotests

// The Go runner of the behaviour scenarios (ffi-tests/scenarios/*.json, format in its
// README): each policy is built with bw_<policy>_new_json on a manual clock and the steps
// run through the C ABI (scenarios_cgo.go), so that the Rust, C, Python and Go runners
// check the same behaviour. `go test -run Scenarios -v` shows one line per scenario and
// the totals.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"unsafe"
)

type scenario struct {
	Name   string           `json:"name"`
	Policy string           `json:"policy"`
	Config json.RawMessage  `json:"config"`
	Steps  []map[string]any `json:"steps"`
}

func str(step map[string]any, key, dflt string) string {
	if v, ok := step[key].(string); ok {
		return v
	}
	return dflt
}

func num(step map[string]any, key string, dflt float64) float64 {
	if v, ok := step[key].(float64); ok {
		return v
	}
	return dflt
}

func nsOfMs(ms float64) uint64 { return uint64(math.Round(ms * 1e6)) }

func checkAdmission(step map[string]any, r cResult) error {
	want, reject := step["reject"].(string)
	if !reject {
		if r.ok() {
			return nil
		}
		return fmt.Errorf("expected admitted, got %s (%s)", r.statusName(), r.message)
	}
	if !r.rejected() {
		return fmt.Errorf("expected rejected (%s), got %s", want, r.statusName())
	}
	if r.reason != want {
		return fmt.Errorf("expected rejection reason %q, got %q", want, r.reason)
	}
	if ms, ok := step["retry_after_ms"].(float64); ok {
		if !r.hasRetryAfter {
			return fmt.Errorf("expected retry_after_ms %v, got none", ms)
		}
		if r.retryAfterNs != nsOfMs(ms) {
			return fmt.Errorf("expected retry_after_ms %v, got %d ns", ms, r.retryAfterNs)
		}
	}
	return nil
}

func compareMetrics(step map[string]any, got map[string]metricValue, r cResult) error {
	if !r.ok() {
		return fmt.Errorf("metrics: %s", r.message)
	}
	want, ok := step["metrics"].(map[string]any)
	if !ok {
		return fmt.Errorf("expect_metrics has no \"metrics\" object")
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		w := want[key]
		g, known := got[key]
		if !known {
			return fmt.Errorf("unknown metric %q", key)
		}
		if g.isRate {
			wf, isNum := w.(float64)
			switch {
			case w == nil && g.rate < 0:
			case isNum && g.rate >= 0 && math.Abs(wf-g.rate) < 1e-9:
			case g.rate < 0:
				return fmt.Errorf("metric %s: expected %v, got none", key, w)
			default:
				return fmt.Errorf("metric %s: expected %v, got %v", key, w, g.rate)
			}
		} else if wf, isNum := w.(float64); !isNum || uint64(wf) != g.count {
			return fmt.Errorf("metric %s: expected %v, got %d", key, w, g.count)
		}
	}
	return nil
}

func advance(clock cClock, step map[string]any) error {
	if r := clock.advanceNs(nsOfMs(num(step, "ms", 0))); !r.ok() {
		return fmt.Errorf("bw_clock_advance_ns: %s", r.message)
	}
	return nil
}

func outcomeOf(step map[string]any) (uint32, error) {
	o := str(step, "outcome", "")
	code, ok := outcomeCodes[o]
	if !ok {
		return 0, fmt.Errorf("unknown outcome %q", o)
	}
	return code, nil
}

func breakerStep(h unsafe.Pointer, clock cClock, permits map[string]cPermit, step map[string]any) error {
	switch op := str(step, "op", ""); op {
	case "acquire":
		p, r := breakerTryAcquire(h)
		if err := checkAdmission(step, r); err != nil {
			return err
		}
		if name, ok := step["permit"].(string); ok && r.ok() {
			permits[name] = p
		}
	case "record":
		name := str(step, "permit", "")
		p, ok := permits[name]
		if !ok {
			return fmt.Errorf("no permit named %q", name)
		}
		delete(permits, name)
		outcome, err := outcomeOf(step)
		if err != nil {
			return err
		}
		r := breakerRecord(h, p, outcome)
		got := r.statusName()
		if r.ok() {
			got = "recorded"
		} else if r.stale() {
			got = "stale"
		}
		if want := str(step, "expect", "recorded"); got != want {
			return fmt.Errorf("expected %s, got %s", want, got)
		}
	case "call":
		outcome, err := outcomeOf(step)
		if err != nil {
			return err
		}
		times := int(num(step, "times", 1))
		for i := 1; i <= times; i++ {
			p, r := breakerTryAcquire(h)
			if !r.ok() {
				return fmt.Errorf("call %d of %d: expected admitted, got %s (%s)", i, times, r.statusName(), r.reason)
			}
			if r := breakerRecord(h, p, outcome); !r.ok() {
				return fmt.Errorf("call %d of %d: expected recorded, got %s", i, times, r.statusName())
			}
		}
	case "advance":
		return advance(clock, step)
	case "reset", "force_open", "disable":
		if r := breakerManual(h, op); !r.ok() {
			return fmt.Errorf("%s: %s", op, r.message)
		}
	case "expect_state":
		code, r := breakerState(h)
		if !r.ok() {
			return fmt.Errorf("bw_breaker_state: %s", r.message)
		}
		if want, got := str(step, "state", ""), stateName(code); got != want {
			return fmt.Errorf("expected state %q, got %q", want, got)
		}
	case "expect_metrics":
		m, r := breakerMetrics(h)
		return compareMetrics(step, m, r)
	default:
		return fmt.Errorf("unknown breaker op %q", op)
	}
	return nil
}

func retryStep(h unsafe.Pointer, step map[string]any) error {
	if op := str(step, "op", ""); op != "delays" {
		return fmt.Errorf("unknown retry op %q", op)
	}
	list, _ := step["ms"].([]any)
	want := make([]uint64, 0, len(list))
	for _, v := range list {
		ms, _ := v.(float64)
		want = append(want, nsOfMs(ms))
	}
	got, r := retryDelaysNs(h)
	if !r.ok() {
		return fmt.Errorf("bw_retry_delays_ns: %s", r.message)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("expected delays %v ns, got %v ns", want, got)
	}
	return nil
}

func bulkheadStep(h unsafe.Pointer, clock cClock, step map[string]any) error {
	switch op := str(step, "op", ""); op {
	case "try_acquire":
		return checkAdmission(step, bulkheadTryAcquire(h))
	case "release":
		got := "refused"
		if bulkheadRelease(h).ok() {
			got = "released"
		}
		if want := str(step, "expect", "released"); got != want {
			return fmt.Errorf("expected %s, got %s", want, got)
		}
	case "advance":
		return advance(clock, step)
	case "expect_metrics":
		m, r := bulkheadMetrics(h)
		return compareMetrics(step, m, r)
	default:
		return fmt.Errorf("unknown bulkhead op %q", op)
	}
	return nil
}

func limiterStep(h unsafe.Pointer, clock cClock, step map[string]any) error {
	switch op := str(step, "op", ""); op {
	case "try_acquire":
		return checkAdmission(step, limiterTryAcquire(h, uint32(num(step, "n", 1))))
	case "advance":
		return advance(clock, step)
	case "expect_metrics":
		m, r := limiterMetrics(h)
		return compareMetrics(step, m, r)
	default:
		return fmt.Errorf("unknown limiter op %q", op)
	}
}

// runScenario runs one scenario: the index of the failing step and what differed, or
// a nil error.
func runScenario(sc scenario) (int, error) {
	clock, r := newManualClock()
	if !r.ok() {
		return 0, fmt.Errorf("bw_clock_manual_new: %s", r.message)
	}
	defer clock.free()
	config := string(sc.Config)
	if config == "" {
		config = "{}"
	}
	h, r := newJSON(sc.Policy, config, clock)
	if !r.ok() {
		return 0, fmt.Errorf("configuration refused: %s", r.message)
	}
	defer freeHandle(sc.Policy, h)
	permits := map[string]cPermit{}
	for i, step := range sc.Steps {
		var err error
		switch sc.Policy {
		case "breaker":
			err = breakerStep(h, clock, permits, step)
		case "retry":
			err = retryStep(h, step)
		case "bulkhead":
			err = bulkheadStep(h, clock, step)
		case "limiter":
			err = limiterStep(h, clock, step)
		}
		if err != nil {
			return i, err
		}
	}
	return 0, nil
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "scenarios", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) < 15 {
		t.Fatalf("expected the scenario set in ../scenarios, found %d files", len(files))
	}
	passed, failed := 0, 0
	for _, path := range files {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var sc scenario
		if err := json.Unmarshal(text, &sc); err != nil {
			t.Fatalf("%s: not a scenario: %v", path, err)
		}
		if step, err := runScenario(sc); err != nil {
			failed++
			t.Errorf("FAIL %s: step %d: %v", sc.Name, step, err)
		} else {
			passed++
			t.Logf("ok   %s", sc.Name)
		}
	}
	t.Logf("%d passed, %d failed", passed, failed)
}
