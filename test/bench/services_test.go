package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// createServices creates n annotated LoadBalancer Services from creators
// goroutines and returns when the last create returned.
func createServices(ctx context.Context, cs kubernetes.Interface, n int) (time.Time, error) {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		last     time.Time
		firstErr error
	)
	for range creators {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				_, err := cs.CoreV1().Services(benchNamespace).Create(ctx, service(i), metav1.CreateOptions{})
				now := time.Now()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("create service %d: %w", i, err)
				}
				if now.After(last) {
					last = now
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return last, firstErr
}

// service is the i-th benchmark Service: opted in by OpenELB's annotation,
// no node ports (DESIGN.md §4: the NodePort range holds only 2,768).
func service(i int) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("svc-%05d", i),
			Annotations: map[string]string{v1alpha2.AnnotationLoadBalancer: v1alpha2.AnnotationLoadBalancerValue},
		},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			AllocateLoadBalancerNodePorts: ptr.To(false),
			Selector:                      map[string]string{"app": fmt.Sprintf("app-%05d", i)},
			Ports:                         []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
}

// allocationWatch counts the Services that have an address, from an
// informer's watch rather than by polling every object.
type allocationWatch struct {
	want int
	done chan struct{}

	mu        sync.Mutex
	allocated map[string]bool
	at        time.Time
}

func watchAllocations(ctx context.Context, cs kubernetes.Interface, want int) (*allocationWatch, error) {
	w := &allocationWatch{want: want, done: make(chan struct{}), allocated: map[string]bool{}}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(benchNamespace))
	inf := factory.Core().V1().Services().Informer()
	see := func(obj any) {
		if svc, ok := obj.(*corev1.Service); ok && len(svc.Status.LoadBalancer.Ingress) > 0 {
			w.mark(svc.Name)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    see,
		UpdateFunc: func(_, obj any) { see(obj) },
	}); err != nil {
		return nil, fmt.Errorf("service informer: %w", err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("service informer: not synced: %w", ctx.Err())
	}
	return w, nil
}

func (w *allocationWatch) mark(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.allocated[name] {
		return
	}
	w.allocated[name] = true
	if len(w.allocated) == w.want {
		w.at = time.Now()
		close(w.done)
	}
}

func (w *allocationWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.allocated)
}

func (w *allocationWatch) doneAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at
}
