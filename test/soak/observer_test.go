package soak

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// observer watches every Service and checks the invariants on each event,
// in the order the API server committed them (one watch over all
// namespaces is ordered by resourceVersion), so "at the same time" means
// what a client of the API could have seen.
type observer struct {
	mu         sync.Mutex
	services   map[types.UID]*observed
	holders    map[string]map[types.UID]bool // address -> the live Services showing it
	violations []string
	// allocations counts Services that got their first address.
	allocations int
}

// observed is one Service as the observer saw it over its life.
type observed struct {
	key string
	// history is every distinct status.loadBalancer.ingress it showed, in
	// order, "" for none.
	history []string
	// first is the first non-empty ingress; it must never change while the
	// Service lives.
	first    string
	current  string
	deleting bool
	svc      *corev1.Service
}

func newObserver() *observer {
	return &observer{services: map[types.UID]*observed{}, holders: map[string]map[types.UID]bool{}}
}

// start runs an informer over all Services until ctx ends.
func (o *observer) start(ctx context.Context, cs kubernetes.Interface) error {
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Services().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.update(obj) },
		UpdateFunc: func(_, obj any) { o.update(obj) },
		DeleteFunc: o.remove,
	})
	if err != nil {
		return fmt.Errorf("service informer: %w", err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("service informer: not synced: %w", ctx.Err())
	}
	return nil
}

func ingressOf(svc *corev1.Service) string {
	var ips []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		ips = append(ips, in.IP)
	}
	slices.Sort(ips)
	return strings.Join(ips, ",")
}

func (o *observer) update(obj any) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.services[svc.UID]
	if s == nil {
		s = &observed{key: svc.Namespace + "/" + svc.Name, history: []string{""}}
		o.services[svc.UID] = s
	}
	s.svc = svc
	ips := ingressOf(svc)
	if ips != s.history[len(s.history)-1] {
		s.history = append(s.history, ips)
	}
	if svc.DeletionTimestamp != nil {
		// Herald frees the address as soon as deletion starts; what the
		// status still says no longer counts as holding it.
		s.deleting = true
		o.setCurrent(svc.UID, s, "")
		return
	}
	switch {
	case s.first == "" && ips != "":
		s.first = ips
		o.allocations++
	case s.first != "" && ips != s.first:
		o.violations = append(o.violations, fmt.Sprintf("moved: %s had %s, now shows %q (history %q)", s.key, s.first, ips, s.history))
	}
	o.setCurrent(svc.UID, s, ips)
}

// setCurrent records what a Service shows and checks that no other live
// Service shows one of those addresses.
func (o *observer) setCurrent(uid types.UID, s *observed, ips string) {
	for _, ip := range splitIPs(s.current) {
		delete(o.holders[ip], uid)
		if len(o.holders[ip]) == 0 {
			delete(o.holders, ip)
		}
	}
	s.current = ips
	for _, ip := range splitIPs(ips) {
		for other := range o.holders[ip] {
			o.violations = append(o.violations, fmt.Sprintf("shared: %s shows %s, which %s shows too", s.key, ip, o.services[other].key))
		}
		if o.holders[ip] == nil {
			o.holders[ip] = map[types.UID]bool{}
		}
		o.holders[ip][uid] = true
	}
}

func (o *observer) remove(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.services[svc.UID]; s != nil {
		o.setCurrent(svc.UID, s, "")
		delete(o.services, svc.UID)
	}
}

func splitIPs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// snapshot is the observer's view of the live Services at one moment.
type snapshot struct {
	// live are the soak's Services without a deletion timestamp.
	live []*corev1.Service
	// held maps each address a live Service shows to that Service's key.
	held map[string]string
	// deleting counts Services whose deletion has started but not ended.
	deleting    int
	violations  []string
	allocations int
}

func (o *observer) snapshot() snapshot {
	o.mu.Lock()
	defer o.mu.Unlock()
	snap := snapshot{held: map[string]string{}, violations: slices.Clone(o.violations), allocations: o.allocations}
	for _, s := range o.services {
		if !isSoakService(s.svc) {
			continue // default/kubernetes
		}
		if s.deleting {
			snap.deleting++
			continue
		}
		snap.live = append(snap.live, s.svc)
		for _, ip := range splitIPs(s.current) {
			snap.held[ip] = s.key
		}
	}
	slices.SortFunc(snap.live, func(a, b *corev1.Service) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return snap
}

// isSoakService tells the soak's Services from the cluster's own
// (default/kubernetes).
func isSoakService(svc *corev1.Service) bool {
	return svc.Namespace == boundNS || svc.Namespace == freeNS
}
