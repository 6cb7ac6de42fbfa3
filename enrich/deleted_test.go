package enrich

import (
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/event"
)

func retiredSnap(pod string, ids ...string) *snapshot {
	s := &snapshot{pod: &event.Pod{Name: pod}, containers: map[string]ContainerMeta{}}
	for _, id := range ids {
		for _, k := range containerKeys(id) {
			s.containers[k] = ContainerMeta{ID: id, Pod: s.pod}
		}
	}
	return s
}

// TestDeletedPodsBounds checks the grace cache's two bounds, age and count, and that a key
// retired twice resolves to the newer snapshot without losing the older entry's other keys.
func TestDeletedPodsBounds(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	a, b, c, d := hexID("a"), hexID("b"), hexID("c"), hexID("d")
	podOf := func(dp *deletedPods, id string, now time.Time) string {
		key, prefix := lookupKey(id)
		m, ok := dp.lookup(key, prefix, now)
		if !ok {
			return ""
		}
		if !m.Deleted {
			t.Errorf("%s: not marked deleted", id)
		}
		return m.Pod.Name
	}

	dp := newDeletedPods(time.Minute, 2)
	dp.add(retiredSnap("p1", a, b), []string{a, b}, t0)
	dp.add(retiredSnap("p2", c), []string{c}, t0.Add(time.Second))
	if got := podOf(dp, a[:12], t0); got != "p1" {
		t.Errorf("a = %q", got)
	}
	// A third entry evicts the oldest (count bound).
	dp.add(retiredSnap("p3", d), []string{d}, t0.Add(2*time.Second))
	if dp.len() != 2 || podOf(dp, a, t0) != "" || podOf(dp, b, t0) != "" || podOf(dp, c, t0) != "p2" {
		t.Errorf("after eviction: len %d, a %q, c %q", dp.len(), podOf(dp, a, t0), podOf(dp, c, t0))
	}
	// Re-retiring c under another pod: c now resolves there (and p2's entry, the oldest, goes).
	dp.add(retiredSnap("p4", c), []string{c}, t0.Add(3*time.Second))
	if got := podOf(dp, c, t0.Add(3*time.Second)); got != "p4" {
		t.Errorf("c after re-retire = %q, want p4", got)
	}
	// Age bound: everything older than a minute is gone.
	late := t0.Add(3*time.Second + time.Minute + time.Nanosecond)
	if got := podOf(dp, c, late); got != "" {
		t.Errorf("c after the grace period = %q", got)
	}
	dp.expire(late)
	if dp.len() != 0 || len(dp.byKey) != 0 {
		t.Errorf("after expiry: %d entries, %d keys", dp.len(), len(dp.byKey))
	}
}
