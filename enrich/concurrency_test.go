package enrich

import (
	"context"
	"fmt"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lannersec/lanner/collector/alert"
)

// TestConcurrentLookups reads the cache from several goroutines while the informers apply
// updates, restarts and deletes, so that `go test -race` checks the goroutine-safety that
// Container, Enrich and the snapshots promise. Every lookup must find the pod it asks for
// (live, or deleted within the grace period).
func TestConcurrentLookups(t *testing.T) {
	cs := fake.NewClientset(baseObjects()...)
	c := runSynced(t, cs, Config{NodeName: node})

	const rounds = 200
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := []string{idApp, idSide, idInit[:12], idDebug}[(g+i)%4]
				m, ok := c.Container(id)
				if !ok || m.Pod.Namespace != "shop" {
					errs <- fmt.Errorf("lookup %s: ok=%v", id[:12], ok)
					return
				}
				a := &alert.Alert{}
				c.Enrich(a, id)
				if a.K8s == nil || a.K8s.PodName == "" {
					errs <- fmt.Errorf("enrich %s: %+v", id[:12], a.K8s)
					return
				}
			}
		}()
	}
	side := ctr{name: "sidecar", id: idSide, image: "envoyproxy/envoy:v1.31"}
	for i := range rounds {
		p := webPod(ctr{name: "app", id: idApp, image: nginx}, side)
		p.Labels["round"] = fmt.Sprint(i)
		if _, err := cs.CoreV1().Pods("shop").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			// Owner and namespace churn invalidate snapshots too.
			ns := namespace("shop", map[string]string{"team": fmt.Sprint(i)})
			if _, err := cs.CoreV1().Namespaces().Update(context.Background(), ns, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cs.CoreV1().Pods("shop").Delete(context.Background(), "web-7d9f5c-x2x4q", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Lookups keep succeeding after the delete (grace cache) until the readers are stopped.
	for range rounds {
		if _, ok := c.Container(idApp); !ok {
			// The delete may still be in flight; the informer will retire the pod before the
			// store forgets it, so a miss here is a bug.
			t.Fatal("idApp missed around the delete")
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
