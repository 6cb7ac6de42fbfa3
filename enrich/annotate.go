package enrich

import "github.com/lannersec/lanner/collector/event"

// Annotator sets the Kubernetes metadata of the containers events run in, so that the k8s.* and
// container.* rule fields (package fields reads event.Container.Pod, Name and Image*) see the
// cache. It sits on the event path between state and the engine:
//
//	annot := cache.NewAnnotator()
//	...
//	if th := ev.Sys.Thread; th != nil { annot.Annotate(th.Container) }
//
// A container is looked up once per cache generation: its first event after any change of the
// cache pays a lookup, later ones a map probe, so that a container whose pod appears after its
// first events (the kubelet reports the container id after the container started) is resolved
// as soon as the informer has it. An Annotator is not safe for concurrent use: it belongs to the
// goroutine that owns the containers it writes (the one that runs state and the engine).
type Annotator struct {
	c    *Cache
	gen  uint64
	seen map[*event.Container]struct{}
}

// NewAnnotator returns an Annotator reading c.
func (c *Cache) NewAnnotator() *Annotator {
	return &Annotator{c: c, gen: ^uint64(0), seen: map[*event.Container]struct{}{}}
}

// Annotate sets ctr.Pod from the cache (nil when unknown) and fills the container's name and
// image fields that the runtime metadata left empty. Host and nil containers are left alone.
func (a *Annotator) Annotate(ctr *event.Container) {
	if ctr == nil || ctr.ID == "" || ctr.IsHost() {
		return
	}
	if g := a.c.gen.Load(); g != a.gen {
		// Something changed: every container is looked up again on its next event. Clearing
		// also bounds the memo to the containers seen since the last change.
		clear(a.seen)
		a.gen = g
	}
	if _, ok := a.seen[ctr]; ok {
		return
	}
	a.seen[ctr] = struct{}{}
	id := ctr.FullID
	if id == "" {
		id = ctr.ID
	}
	m, ok := a.c.Container(id)
	if !ok {
		ctr.Pod = nil
		return
	}
	ctr.Pod = m.Pod
	if ctr.Name == "" {
		ctr.Name = m.Name
	}
	if ctr.Image == "" && m.Image != "" {
		ctr.Image = m.Image
		ctr.ImageRepository, ctr.ImageTag, ctr.ImageDigest = splitImage(m.Image)
		if ctr.ImageDigest == "" {
			_, _, ctr.ImageDigest = splitImage(m.ImageID)
		}
	}
}
