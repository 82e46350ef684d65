package gotests

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Functions of the header the Go binding deliberately does not call.
var notWrapped = map[string]string{
	"bw_last_error_message":             "Go uses the per-call bw_error (goroutines move between threads)",
	"bw_clock_monotonic_new":            "the binding uses bw_clock_new(kind)",
	"bw_clock_manual_new":               "the binding uses bw_clock_new(kind)",
	"bw_clock_kind":                     "the Go types say the kind",
	"bw_retry_call":                     "a C convenience calling back into C; Go attempts run in Go (Retry.Do)",
	"bw_bulkhead_call":                  "a C convenience calling back into C; Go code runs in Go (Bulkhead.Execute)",
	"bw_deadline_new":                   "Go callers use their context (context.WithTimeout)",
	"bw_deadline_remaining_ns":          "Go callers use their context (context.WithTimeout)",
	"bw_deadline_expired":               "Go callers use their context (context.WithTimeout)",
	"bw_deadline_at_ns":                 "Go callers use their context (context.WithTimeout)",
	"bw_deadline_free":                  "Go callers use their context (context.WithTimeout)",
	"bw_breaker_try_acquire":            "Allow uses bw_breaker_admit (a refusal is answered without an error object)",
	"bw_breaker_record_ptr":             "Go passes the permit by value (bw_breaker_record)",
	"bw_breaker_enter":                  "the one-argument frame is for ctypes; Go uses bw_breaker_admit",
	"bw_breaker_exit":                   "the one-argument frame is for ctypes; Go uses bw_breaker_record",
	"bw_breaker_exit_outcome":           "the one-argument frame is for ctypes; Go uses bw_breaker_record",
	"bw_breaker_call":                   "guarded Go code runs in Go through the permit protocol (no C-to-Go callbacks)",
	"bw_shared_breaker_call":            "guarded Go code runs in Go through the permit protocol (no C-to-Go callbacks)",
	"bw_breaker_new_json_with_callback": "its event callback would call into Go: the binding uses bw_breaker_new_json and polls events",
	// Executors run C callbacks on library threads; Go code runs in Go (SPEC 12): the
	// binding has its own TimeLimiter, Pipeline and Fallback over goroutines and contexts.
	"bw_pool_new_json":                     "C callbacks (the Go scheduler is Go's thread pool)",
	"bw_pool_submit":                       "C callbacks (the Go scheduler is Go's thread pool)",
	"bw_pool_shutdown":                     "C callbacks (the Go scheduler is Go's thread pool)",
	"bw_pool_metrics":                      "C callbacks (the Go scheduler is Go's thread pool)",
	"bw_pool_free":                         "C callbacks (the Go scheduler is Go's thread pool)",
	"bw_task_join":                         "C callbacks (the Go scheduler is Go's thread pool)",
	"bw_task_free":                         "C callbacks (the Go scheduler is Go's thread pool)",
	"bw_time_limiter_new_json":             "C callbacks: Go's TimeLimiter uses context.WithTimeout",
	"bw_time_limiter_call":                 "C callbacks: Go's TimeLimiter uses context.WithTimeout",
	"bw_time_limiter_metrics":              "C callbacks: Go's TimeLimiter uses context.WithTimeout",
	"bw_time_limiter_free":                 "C callbacks: Go's TimeLimiter uses context.WithTimeout",
	"bw_pipeline_builder_new":              "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_builder_add_breaker":      "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_builder_add_retry":        "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_builder_add_bulkhead":     "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_builder_add_limiter":      "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_builder_add_deadline":     "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_builder_add_time_limiter": "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_builder_add_fallback":     "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_builder_build":            "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_builder_free":             "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_call":                     "C callbacks: Go's Pipeline composes Guard values",
	"bw_pipeline_free":                     "C callbacks: Go's Pipeline composes Guard values",
}

// Every function of include/breakwater.h is called by the binding (or listed above), and
// every function called from Go is declared nocallback for cgo. The hot path's C
// wrappers in the cgo preamble (bwgo_*, taking no pointer) count as calling the
// functions they call; they are not declared (nothing to gain, a check to pay).
func TestEveryHeaderFunctionIsWrapped(t *testing.T) {
	header, err := os.ReadFile("../../include/breakwater.h")
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^[\w ]+?\**(bw_\w+)\(`).FindAllSubmatch(header, -1) {
		declared[string(m[1])] = true
	}
	types := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^typedef .*?(bw_\w+);$|^} (bw_\w+);$`).FindAllSubmatch(header, -1) {
		types[string(m[1])+string(m[2])] = true
	}
	if !types["bw_status"] || !types["bw_error"] {
		t.Fatalf("header parsing found no types: %v", types)
	}
	if !declared["bw_clock_now_ns"] {
		t.Fatal("header parsing found no functions")
	}
	files, _ := filepath.Glob("../../bindings/go/*.go")
	called := map[string]bool{}
	viaWrapper := map[string]bool{}
	var source strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		source.Write(text)
		for _, m := range regexp.MustCompile(`C\.(bw_\w+)\(`).FindAllSubmatch(text, -1) {
			if !types[string(m[1])] { // C.bw_status(x) is a conversion
				called[string(m[1])] = true
			}
		}
		for _, w := range regexp.MustCompile(`(?s)static inline [^{]*\bbwgo_\w+\([^)]*\) \{.*?\n\}`).FindAll(text, -1) {
			for _, m := range regexp.MustCompile(`\b(bw_\w+)\(`).FindAllSubmatch(w, -1) {
				if !types[string(m[1])] {
					viaWrapper[string(m[1])] = true
				}
			}
		}
	}
	var missing []string
	for name := range declared {
		if !called[name] && !viaWrapper[name] && notWrapped[name] == "" {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("header functions the Go binding does not call: %v", missing)
	}
	for name := range viaWrapper {
		if !declared[name] {
			t.Errorf("%s is called by a bwgo_ wrapper but not in the header", name)
		}
	}
	for name := range called {
		if !declared[name] {
			t.Errorf("%s is called but not in the header", name)
		}
		if !strings.Contains(source.String(), "#cgo nocallback "+name+"\n") {
			t.Errorf("%s lacks a `#cgo nocallback` line in cgo.go", name)
		}
	}
}
