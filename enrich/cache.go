package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/lannersec/lanner/collector/event"
)

// Defaults of Config.
const (
	DefaultDeletedPodGrace = 2 * time.Minute
	DefaultMaxDeletedPods  = 1024
)

// containerIndex names the pod informer's index from container id to pod.
const containerIndex = "containerID"

// Config says what the cache watches and how long it remembers.
type Config struct {
	// NodeName restricts the pod watch to the pods scheduled on this node (the API server
	// filters with the field selector spec.nodeName). lanner runs as a DaemonSet and gets it
	// from the downward API (spec.nodeName into NODE_NAME). Required unless AllNodes is set.
	NodeName string
	// AllNodes watches every pod of the cluster instead. Memory and API-server load then grow
	// with the cluster, not the node: meant for a collector that is not per node, and for
	// measuring what the node filter saves.
	AllNodes bool
	// DeletedPodGrace is how long a deleted pod, or a replaced container of a live pod, still
	// resolves, so that alerts from its last moments (queued, or raced by the delete event)
	// are enriched. Zero means DefaultDeletedPodGrace.
	DeletedPodGrace time.Duration
	// MaxDeletedPods bounds how many deleted pods (and replaced containers) are kept during
	// the grace period; the oldest go first. Zero means DefaultMaxDeletedPods.
	MaxDeletedPods int
	// Resync is the informers' resync period. Zero (the default) disables resyncs: the cache
	// acts on watch events only, and a resync would only re-deliver what it has.
	Resync time.Duration

	// clock is replaced by tests to expire deleted pods without sleeping.
	clock clock.PassiveClock
	// noTrim stores whole objects, so that a benchmark can show what trimming saves.
	noTrim bool
}

func (c *Config) validate() error {
	switch {
	case c.NodeName == "" && !c.AllNodes:
		return errors.New("no node name: set NodeName (spec.nodeName through the downward API) or AllNodes")
	case c.NodeName != "" && c.AllNodes:
		return errors.New("NodeName and AllNodes are exclusive")
	case c.DeletedPodGrace < 0:
		return fmt.Errorf("negative deleted-pod grace period %v", c.DeletedPodGrace)
	case c.MaxDeletedPods < 0:
		return fmt.Errorf("negative deleted-pod cache size %d", c.MaxDeletedPods)
	case c.Resync < 0:
		return fmt.Errorf("negative resync period %v", c.Resync)
	}
	if c.DeletedPodGrace == 0 {
		c.DeletedPodGrace = DefaultDeletedPodGrace
	}
	if c.MaxDeletedPods == 0 {
		c.MaxDeletedPods = DefaultMaxDeletedPods
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	return nil
}

// ContainerMeta is what the cache knows of one container: its pod and its place in the pod's
// spec. Values are shared snapshots: callers must not modify Pod or the maps it holds.
type ContainerMeta struct {
	// ID is the normalized full container id.
	ID string
	// Name is the container's name in the pod spec.
	Name string
	// Image is the image the runtime reports in the container status (the spec's image while
	// the status has none); ImageID the resolved reference (repo@sha256:...).
	Image, ImageID string
	Pod            *event.Pod
	// PodAnnotations are the pod's annotations without kubectl's last-applied-configuration.
	PodAnnotations map[string]string
	// OwnerKind and OwnerName name the top of the resolved owner chain (Deployment rather than
	// its ReplicaSet, CronJob rather than its Job).
	OwnerKind, OwnerName string
	// Deleted is set when the pod was deleted, or the container replaced, and the metadata
	// comes from the grace-period cache.
	Deleted bool
}

// Cache is the node's pod metadata cache. Its lookups are safe for concurrent use; Run drives
// the informers.
type Cache struct {
	cfg   Config
	log   *slog.Logger
	clock clock.PassiveClock

	podFactory, clusterFactory informers.SharedInformerFactory
	pods, namespaces, rs, jobs cache.SharedIndexInformer

	// gen changes whenever a pod, namespace or owner changes, so that Annotators know when
	// their memo is stale. ownerGen and nsGen invalidate pod snapshots whose owners or
	// namespace labels changed.
	gen, ownerGen, nsGen atomic.Uint64

	mu    sync.Mutex
	snaps map[types.UID]*snapshot
	// live maps the container keys of every pod the handlers have seen to its last snapshot.
	// The informer removes a deleted pod from its store (and index) before the delete handler
	// runs; live keeps the pod resolvable in between, until the handler moves it to deleted.
	live    map[string]*snapshot
	deleted *deletedPods

	m *metrics
}

// New builds the cache's informers on client. It does not contact the API server: Run starts
// the watches. logger nil means discard; reg nil means the metrics are not registered.
func New(client kubernetes.Interface, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Cache, error) {
	if client == nil {
		return nil, errors.New("enrich: no Kubernetes client")
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{
		cfg:     cfg,
		log:     logger.With("component", "enrich"),
		clock:   cfg.clock,
		snaps:   map[types.UID]*snapshot{},
		live:    map[string]*snapshot{},
		deleted: newDeletedPods(cfg.DeletedPodGrace, cfg.MaxDeletedPods),
	}
	transform := trimObject
	if cfg.noTrim {
		transform = func(o any) (any, error) { return o, nil }
	}
	podOpts := []informers.SharedInformerOption{informers.WithTransform(transform)}
	if !cfg.AllNodes {
		sel := fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
		podOpts = append(podOpts, informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = sel }))
	}
	c.podFactory = informers.NewSharedInformerFactoryWithOptions(client, cfg.Resync, podOpts...)
	c.clusterFactory = informers.NewSharedInformerFactoryWithOptions(client, cfg.Resync, informers.WithTransform(transform))

	c.pods = c.podFactory.Core().V1().Pods().Informer()
	if err := c.pods.AddIndexers(cache.Indexers{containerIndex: containerIndexFunc}); err != nil {
		return nil, fmt.Errorf("enrich: adding the container-id index: %w", err)
	}
	c.namespaces = c.clusterFactory.Core().V1().Namespaces().Informer()
	c.rs = c.clusterFactory.Apps().V1().ReplicaSets().Informer()
	c.jobs = c.clusterFactory.Batch().V1().Jobs().Informer()

	podHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	}
	if _, err := c.pods.AddEventHandler(podHandler); err != nil {
		return nil, fmt.Errorf("enrich: pod handler: %w", err)
	}
	bump := func(g *atomic.Uint64) cache.ResourceEventHandler {
		f := func() { g.Add(1); c.gen.Add(1) }
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { f() },
			UpdateFunc: func(any, any) { f() },
			DeleteFunc: func(any) { f() },
		}
	}
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		gen *atomic.Uint64
	}{{c.namespaces, &c.nsGen}, {c.rs, &c.ownerGen}, {c.jobs, &c.ownerGen}} {
		if _, err := h.inf.AddEventHandler(bump(h.gen)); err != nil {
			return nil, fmt.Errorf("enrich: handler: %w", err)
		}
	}
	m, err := newMetrics(reg, c)
	if err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	c.m = m
	return c, nil
}

// Run starts the informers and blocks until ctx is done, then stops them and waits for their
// goroutines. It returns nil: informers retry API errors by themselves (and log them through
// klog), so a broken connection shows as HasSynced false and stale metadata, not as an error.
func (c *Cache) Run(ctx context.Context) error {
	c.podFactory.Start(ctx.Done())
	c.clusterFactory.Start(ctx.Done())
	scope := "node " + c.cfg.NodeName
	if c.cfg.AllNodes {
		scope = "all nodes"
	}
	c.log.Info("watching pods", "scope", scope)
	<-ctx.Done()
	c.podFactory.Shutdown()
	c.clusterFactory.Shutdown()
	return nil
}

// HasSynced reports whether every informer has finished its initial list: until then a miss
// may only mean "not listed yet". /readyz reports it.
func (c *Cache) HasSynced() bool {
	return c.pods.HasSynced() && c.namespaces.HasSynced() && c.rs.HasSynced() && c.jobs.HasSynced()
}

// WaitForSync blocks until HasSynced or ctx is done; it reports which.
func (c *Cache) WaitForSync(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.pods.HasSynced, c.namespaces.HasSynced, c.rs.HasSynced, c.jobs.HasSynced) {
		return fmt.Errorf("enrich: informers not synced: %w", context.Cause(ctx))
	}
	return nil
}

// Generation changes whenever the cache's content may have changed.
func (c *Cache) Generation() uint64 { return c.gen.Load() }

// PodByContainerID returns the pod of a container, by full or short id, with or without a
// runtime prefix. Pods deleted within the grace period still resolve. It implements the
// consumer-side PodLookup interface of the event path.
func (c *Cache) PodByContainerID(id string) (*event.Pod, bool) {
	m, ok := c.Container(id)
	return m.Pod, ok
}

// Container returns what the cache knows of a container, by full or short id, with or without
// a runtime prefix.
func (c *Cache) Container(id string) (ContainerMeta, bool) {
	id = NormalizeContainerID(id)
	if id == "" || id == event.HostContainerID {
		return ContainerMeta{}, false
	}
	key, prefix := lookupKey(id)
	objs, err := c.pods.GetIndexer().ByIndex(containerIndex, key)
	if err == nil {
		for _, o := range objs {
			p, ok := o.(*corev1.Pod)
			if !ok || !c.onNode(p) {
				continue
			}
			if m, ok := c.snapshot(p).find(key, prefix); ok {
				c.m.hit.Inc()
				return m, true
			}
		}
	}
	c.mu.Lock()
	if s := c.live[key]; s != nil {
		// Deleted from the store, delete handler not run yet.
		if m, ok := s.find(key, prefix); ok {
			c.mu.Unlock()
			c.m.hit.Inc()
			return m, true
		}
	}
	m, ok := c.deleted.lookup(key, prefix, c.clock.Now())
	c.mu.Unlock()
	if ok {
		c.m.deletedHit.Inc()
		return m, true
	}
	c.m.miss.Inc()
	return ContainerMeta{}, false
}

// onNode guards against an API server (or a test double) that does not honour the field
// selector: a pod of another node must not enrich this node's events.
func (c *Cache) onNode(p *corev1.Pod) bool {
	return c.cfg.AllNodes || p.Spec.NodeName == c.cfg.NodeName
}

// snapshot returns the event.Pod view of p, building it when p, its owners or its namespace
// changed since the last build. Snapshots are immutable once published, so readers on other
// goroutines never see a half-updated pod.
func (c *Cache) snapshot(p *corev1.Pod) *snapshot {
	og, ng := c.ownerGen.Load(), c.nsGen.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.snaps[p.UID]; s != nil && s.src == p && s.ownerGen == og && s.nsGen == ng {
		return s
	}
	s := c.build(p)
	s.ownerGen, s.nsGen = og, ng
	// A lookup racing the pod's delete handler must not re-insert a snapshot the handler just
	// removed: keep it only while the store still holds the pod.
	if _, exists, _ := c.pods.GetStore().Get(p); exists {
		c.snaps[p.UID] = s
	}
	return s
}

func (c *Cache) podAdded(obj any) {
	c.gen.Add(1)
	if p, ok := obj.(*corev1.Pod); ok && c.onNode(p) {
		c.setLive(c.snapshot(p))
	}
}

// setLive points the container keys of s at it.
func (c *Cache) setLive(s *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range s.containers {
		c.live[k] = s
	}
}

// dropLive removes the keys of ids that still point at the pod uid.
func (c *Cache) dropLive(uid types.UID, ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		for _, k := range containerKeys(id) {
			if s := c.live[k]; s != nil && s.src.UID == uid {
				delete(c.live, k)
			}
		}
	}
}

func (c *Cache) podUpdated(oldObj, newObj any) {
	c.gen.Add(1)
	oldPod, ok1 := oldObj.(*corev1.Pod)
	newPod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 || !c.onNode(newPod) {
		return
	}
	c.setLive(c.snapshot(newPod))
	// A restarted container gets a new id. The status keeps the previous one in lastState,
	// but only one generation back: ids that vanish from the status go to the grace cache.
	kept := map[string]bool{}
	forEachContainer(newPod, func(id string, _ *corev1.ContainerStatus) { kept[id] = true })
	var gone []string
	forEachContainer(oldPod, func(id string, _ *corev1.ContainerStatus) {
		if !kept[id] {
			gone = append(gone, id)
		}
	})
	if len(gone) > 0 {
		c.retire(oldPod, gone)
		c.dropLive(oldPod.UID, gone)
	}
}

func (c *Cache) podDeleted(obj any) {
	c.gen.Add(1)
	p, ok := obj.(*corev1.Pod)
	if !ok {
		// The watch missed the delete (e.g. a relist after a disconnection): the informer hands
		// over the last state it had, which is what late events need.
		tomb, isTomb := obj.(cache.DeletedFinalStateUnknown)
		if !isTomb {
			return
		}
		if p, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	var ids []string
	forEachContainer(p, func(id string, _ *corev1.ContainerStatus) { ids = append(ids, id) })
	c.retire(p, ids)
	c.dropLive(p.UID, ids)
	c.mu.Lock()
	delete(c.snaps, p.UID)
	c.mu.Unlock()
}

// retire keeps the containers ids of p resolvable for the grace period.
func (c *Cache) retire(p *corev1.Pod, ids []string) {
	if len(ids) == 0 || !c.onNode(p) {
		return
	}
	s := c.build(p)
	c.mu.Lock()
	c.deleted.add(s, ids, c.clock.Now())
	c.mu.Unlock()
}

// forEachContainer calls fn for every container id in p's status: init, regular and ephemeral
// containers, and the previous instance of each (lastState.terminated), normalized.
func forEachContainer(p *corev1.Pod, fn func(id string, st *corev1.ContainerStatus)) {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for i := range list {
			st := &list[i]
			if id := NormalizeContainerID(st.ContainerID); id != "" {
				fn(id, st)
			}
			if t := st.LastTerminationState.Terminated; t != nil {
				if id := NormalizeContainerID(t.ContainerID); id != "" {
					fn(id, st)
				}
			}
		}
	}
}

// containerIndexFunc indexes a pod under the full and short ids of all its containers.
func containerIndexFunc(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var keys []string
	forEachContainer(p, func(id string, _ *corev1.ContainerStatus) { keys = append(keys, containerKeys(id)...) })
	return keys, nil
}

// snapshot is the event.Pod view of one pod object.
type snapshot struct {
	src              *corev1.Pod
	ownerGen, nsGen  uint64
	pod              *event.Pod
	annotations      map[string]string
	ownerKind, owner string
	// containers is keyed by full and short id.
	containers map[string]ContainerMeta
}

func (s *snapshot) find(key, prefix string) (ContainerMeta, bool) {
	m, ok := s.containers[key]
	if !ok || (prefix != "" && !strings.HasPrefix(m.ID, prefix)) {
		return ContainerMeta{}, false
	}
	return m, true
}

// build makes the snapshot of p from the current owner and namespace caches.
func (c *Cache) build(p *corev1.Pod) *snapshot {
	ep := &event.Pod{
		Name:      p.Name,
		Namespace: p.Namespace,
		UID:       string(p.UID),
		IP:        p.Status.PodIP,
		Labels:    p.Labels,
		NodeName:  p.Spec.NodeName,
	}
	if obj, ok, _ := c.namespaces.GetStore().GetByKey(p.Namespace); ok {
		if ns, ok := obj.(*corev1.Namespace); ok {
			ep.NamespaceLabels = ns.Labels
		}
	}
	s := &snapshot{src: p, pod: ep, annotations: p.Annotations, containers: map[string]ContainerMeta{}}
	s.ownerKind, s.owner = c.resolveOwners(p, ep)

	images := map[string]string{}
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, ct := range list {
			images[ct.Name] = ct.Image
		}
	}
	for _, ct := range p.Spec.EphemeralContainers {
		images[ct.Name] = ct.Image
	}
	forEachContainer(p, func(id string, st *corev1.ContainerStatus) {
		m := ContainerMeta{
			ID: id, Name: st.Name, Image: st.Image, ImageID: st.ImageID, Pod: ep,
			PodAnnotations: p.Annotations, OwnerKind: s.ownerKind, OwnerName: s.owner,
		}
		if m.Image == "" {
			m.Image = images[st.Name]
		}
		for _, k := range containerKeys(id) {
			s.containers[k] = m
		}
	})
	return s
}

// resolveOwners fills ep's workload fields from p's controller reference, following a
// ReplicaSet to its Deployment and a Job to its CronJob through the owner caches, and returns
// the top of the chain.
func (c *Cache) resolveOwners(p *corev1.Pod, ep *event.Pod) (kind, name string) {
	ref := controllerOf(p.OwnerReferences)
	if ref == nil {
		return "", ""
	}
	kind, name = ref.Kind, ref.Name
	switch ref.Kind {
	case "ReplicaSet":
		ep.ReplicaSet = ref.Name
		if up := c.ownerOf(c.rs, p.Namespace, ref.Name); up != nil && up.Kind == "Deployment" {
			ep.Deployment = up.Name
		} else if up == nil {
			// The ReplicaSet is not cached (yet): a Deployment's ReplicaSet is named
			// <deployment>-<pod-template-hash>, and the pod carries that hash as a label.
			if h := p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; h != "" && strings.HasSuffix(ref.Name, "-"+h) {
				ep.Deployment = strings.TrimSuffix(ref.Name, "-"+h)
			}
		}
		if ep.Deployment != "" {
			kind, name = "Deployment", ep.Deployment
		}
	case "StatefulSet":
		ep.StatefulSet = ref.Name
	case "DaemonSet":
		ep.DaemonSet = ref.Name
	case "Job":
		ep.Job = ref.Name
		if up := c.ownerOf(c.jobs, p.Namespace, ref.Name); up != nil && up.Kind == "CronJob" {
			ep.CronJob = up.Name
			kind, name = "CronJob", up.Name
		}
	}
	return kind, name
}

// ownerOf returns the controller reference of the cached object ns/name of inf, nil when the
// object is not cached or has no owner.
func (c *Cache) ownerOf(inf cache.SharedIndexInformer, ns, name string) *metav1.OwnerReference {
	obj, ok, err := inf.GetStore().GetByKey(ns + "/" + name)
	if err != nil || !ok {
		return nil
	}
	o, err := metaOf(obj)
	if err != nil {
		return nil
	}
	return controllerOf(o.GetOwnerReferences())
}

func metaOf(obj any) (metav1.Object, error) {
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		return o, nil
	case *batchv1.Job:
		return o, nil
	}
	return nil, fmt.Errorf("unexpected %T", obj)
}

// controllerOf returns the reference marked controller, else the only reference: objects
// created by hand with one ownerReference often leave controller unset.
func controllerOf(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	if len(refs) == 1 {
		return &refs[0]
	}
	return nil
}
