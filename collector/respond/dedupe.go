package respond

import "sync"

// dedupe remembers the ids of the last n alerts, so an alert delivered twice (NATS or HTTP
// at-least-once) is handled once.
type dedupe struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

func newDedupe(n int) *dedupe {
	return &dedupe{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add reports whether id is new, remembering it (and forgetting the oldest).
func (d *dedupe) add(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.ids[id]; ok {
		return false
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.ids, old)
	}
	d.ring[d.next] = id
	d.ids[id] = struct{}{}
	d.next = (d.next + 1) % len(d.ring)
	return true
}
