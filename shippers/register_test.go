package shippers

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRegisterAllIsAllOrNothing checks that a clash on the second collector leaves the first
// unregistered, and that Unregister frees every name for a second registration.
func TestRegisterAllIsAllOrNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "lanner_test_a_total", Help: "a"})
	b := prometheus.NewCounter(prometheus.CounterOpts{Name: "lanner_test_b_total", Help: "b"})
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "lanner_test_b_total", Help: "b"})
	if err := reg.Register(clash); err != nil {
		t.Fatal(err)
	}
	if _, err := RegisterAll(reg, "test output", a, b); err == nil || !strings.Contains(err.Error(), "test output: register metrics") {
		t.Fatalf("err = %v, want a registration error naming the output", err)
	}
	if n, err := testutil.GatherAndCount(reg, "lanner_test_a_total"); err != nil || n != 0 {
		t.Fatalf("after a failed RegisterAll, lanner_test_a_total is registered (%d series, %v)", n, err)
	}
	reg.Unregister(clash)
	r, err := RegisterAll(reg, "test output", a, b)
	if err != nil {
		t.Fatal(err)
	}
	r.Unregister()
	if _, err := RegisterAll(reg, "test output", a, b); err != nil {
		t.Fatalf("register again after Unregister: %v", err)
	}
	var none *Registration
	none.Unregister()
	if r, err := RegisterAll(nil, "x", a); err != nil || r == nil {
		t.Fatalf("nil registerer: %v, %v", r, err)
	}
}
