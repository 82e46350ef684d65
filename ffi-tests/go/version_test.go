package gotests

import (
	"os"
	"regexp"
	"testing"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

func cargoVersion(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile("../../Cargo.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version = "([^"]+)"`).FindSubmatch(text)
	if m == nil {
		t.Fatal("no version in Cargo.toml")
	}
	return string(m[1])
}

func TestVersionsAgree(t *testing.T) {
	want := cargoVersion(t)
	if bw.Version() != want || bw.BindingVersion != want {
		t.Fatalf("library %s, binding %s, Cargo.toml %s", bw.Version(), bw.BindingVersion, want)
	}
	if err := bw.CheckVersion(); err != nil {
		t.Fatal(err)
	}
	if bw.ABIVersion() != 2 {
		t.Fatalf("ABI version %d", bw.ABIVersion())
	}
}

func TestStatusNames(t *testing.T) {
	want := map[bw.Status]string{
		bw.StatusOK:              "BW_OK",
		bw.StatusRejected:        "BW_REJECTED",
		bw.StatusTimedOut:        "BW_TIMED_OUT",
		bw.StatusFailed:          "BW_FAILED",
		bw.StatusInvalidArgument: "BW_INVALID_ARGUMENT",
		bw.StatusInvalidConfig:   "BW_INVALID_CONFIG",
		bw.StatusPanic:           "BW_PANIC",
		bw.StatusStale:           "BW_STALE",
		bw.StatusCancelled:       "BW_CANCELLED",
		bw.StatusShutdown:        "BW_SHUTDOWN",
		bw.StatusBufferTooSmall:  "BW_BUFFER_TOO_SMALL",
		-1:                       "BW_UNKNOWN",
		11:                       "BW_UNKNOWN",
		1<<31 - 1:                "BW_UNKNOWN",
	}
	for s, name := range want {
		if got := s.String(); got != name {
			t.Errorf("Status(%d).String() = %q, want %q", int32(s), got, name)
		}
	}
	for i := bw.StatusOK; i <= bw.StatusBufferTooSmall; i++ {
		if int32(i) < 0 || i.String() == "BW_UNKNOWN" {
			t.Errorf("status %d has no name", int32(i))
		}
	}
}

func TestPolicyAndReasonNames(t *testing.T) {
	if got := bw.PolicyCircuitBreaker.String(); got != "circuit breaker" {
		t.Error(got)
	}
	if got := bw.PolicyHTTP.String(); got != "http" {
		t.Error(got)
	}
	if got := bw.Policy(99).String(); got != "policy(99)" {
		t.Error(got)
	}
	if got := bw.ReasonTrialFull.String(); got != "half-open trial full" {
		t.Error(got)
	}
	if got := bw.Reason(99).String(); got != "reason(99)" {
		t.Error(got)
	}
	if bw.ReasonCancelled != 10 || bw.PolicyHTTP != 11 || bw.StatusBufferTooSmall != 10 {
		t.Error("codes moved")
	}
}
