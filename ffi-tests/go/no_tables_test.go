package gotests

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

// The binding keeps no copy of what the library describes: names of policies, reasons,
// states and transition reasons (bw_*_name), the breaker's defaults and its messages.
// This test reads the binding's source and fails when such a table creeps back in.
func TestTheBindingKeepsNoTables(t *testing.T) {
	var names []string
	for code := 0; ; code++ {
		n := bw.Policy(code).String()
		if strings.HasPrefix(n, "policy(") {
			break
		}
		names = append(names, n)
	}
	for code := 0; ; code++ {
		n := bw.Reason(code).String()
		if strings.HasPrefix(n, "reason(") {
			break
		}
		names = append(names, n)
	}
	for code := 0; ; code++ {
		n := bw.BreakerState(code).String()
		if strings.HasPrefix(n, "state(") {
			break
		}
		names = append(names, n)
	}
	distinctive := map[string]bool{}
	for _, n := range names {
		if strings.ContainsAny(n, " -") {
			distinctive[n] = true
		}
	}
	if !distinctive["half-open trial full"] || !distinctive["circuit breaker"] || !distinctive["half-open"] {
		t.Fatalf("names from the library: %v", names)
	}
	files, err := filepath.Glob("../../bindings/go/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("glob: %v %v", files, err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0) // no comments: doc text may name things
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok {
				return true
			}
			switch lit.Kind {
			case token.STRING:
				s, _ := strconv.Unquote(lit.Value)
				if distinctive[s] {
					t.Errorf("%v: %q is a name the library provides (bw_*_name)", fset.Position(lit.Pos()), s)
				}
				if strings.Contains(s, "rejected the call") || strings.Contains(s, "configuration: ") {
					t.Errorf("%v: %q is a message the library provides", fset.Position(lit.Pos()), s)
				}
			case token.INT:
				if filepath.Base(f) == "breaker.go" && (lit.Value == "100" || lit.Value == "60") {
					t.Errorf("%v: %s looks like a breaker default (bw_breaker_config_defaults_json)", fset.Position(lit.Pos()), lit.Value)
				}
			}
			return true
		})
	}
}

func TestConfigDefaultsAndSchemaComeFromTheLibrary(t *testing.T) {
	var d map[string]any
	if err := json.Unmarshal([]byte(bw.ConfigDefaultsJSON(bw.PolicyCircuitBreaker)), &d); err != nil {
		t.Fatal(err)
	}
	if d["consecutive_failures"] != float64(5) || d["failure_rate"] != nil {
		t.Fatalf("defaults %v", d)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(bw.ConfigSchemaJSON(bw.PolicyCircuitBreaker)), &s); err != nil {
		t.Fatal(err)
	}
	if props, _ := s["properties"].(map[string]any); len(props) != len(d) {
		t.Fatalf("schema properties %v, defaults %v", props, d)
	}
	for _, p := range []bw.Policy{bw.PolicyRetry, bw.PolicyBulkhead, bw.PolicyRateLimiter, bw.PolicyThreadPool, bw.PolicyTimeLimiter} {
		if !strings.HasPrefix(bw.ConfigDefaultsJSON(p), "{") || !strings.Contains(bw.ConfigSchemaJSON(p), "$schema") {
			t.Errorf("%v: %q", p, bw.ConfigDefaultsJSON(p))
		}
	}
	if bw.ConfigDefaultsJSON(bw.PolicyFallback) != "" {
		t.Error("fallback has no configuration")
	}
}
