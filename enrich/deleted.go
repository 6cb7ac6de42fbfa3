package enrich

import (
	"container/list"
	"time"
)

// deletedPods keeps the snapshots of deleted pods, and of replaced containers of live pods, for
// a grace period, bounded in count. Informer delete events and late events race: an alert from
// a pod's last second is often built after the pod is gone from the informer's store. The
// caller holds the Cache's mutex.
type deletedPods struct {
	grace time.Duration
	max   int
	byKey map[string]*deletedEntry
	order list.List // of *deletedEntry, oldest at the front
}

type deletedEntry struct {
	at   time.Time
	snap *snapshot
	keys []string
	elem *list.Element
}

func newDeletedPods(grace time.Duration, max int) *deletedPods {
	return &deletedPods{grace: grace, max: max, byKey: map[string]*deletedEntry{}}
}

// add records that the containers ids of snap were retired at now.
func (d *deletedPods) add(snap *snapshot, ids []string, now time.Time) {
	d.expire(now)
	e := &deletedEntry{at: now, snap: snap}
	for _, id := range ids {
		e.keys = append(e.keys, containerKeys(id)...)
	}
	// A key retired again points at the newer snapshot; the older entry keeps its other keys
	// (drop only removes the keys an entry still owns).
	for _, k := range e.keys {
		d.byKey[k] = e
	}
	e.elem = d.order.PushBack(e)
	for d.order.Len() > d.max {
		d.drop(d.order.Front().Value.(*deletedEntry))
	}
}

// lookup finds a retired container by index key (verified against prefix when set).
func (d *deletedPods) lookup(key, prefix string, now time.Time) (ContainerMeta, bool) {
	e := d.byKey[key]
	if e == nil {
		return ContainerMeta{}, false
	}
	if now.Sub(e.at) > d.grace {
		d.expire(now)
		return ContainerMeta{}, false
	}
	m, ok := e.snap.find(key, prefix)
	if !ok {
		return ContainerMeta{}, false
	}
	m.Deleted = true
	return m, true
}

// expire drops the entries older than the grace period, oldest first.
func (d *deletedPods) expire(now time.Time) {
	for f := d.order.Front(); f != nil; f = d.order.Front() {
		e := f.Value.(*deletedEntry)
		if now.Sub(e.at) <= d.grace {
			return
		}
		d.drop(e)
	}
}

// drop removes e and the keys that still point at it (a newer entry may own some).
func (d *deletedPods) drop(e *deletedEntry) {
	for _, k := range e.keys {
		if d.byKey[k] == e {
			delete(d.byKey, k)
		}
	}
	if e.elem != nil {
		d.order.Remove(e.elem)
		e.elem = nil
	}
}

func (d *deletedPods) len() int { return d.order.Len() }
