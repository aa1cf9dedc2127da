package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/allocator"
	"github.com/herald-lb/herald/internal/eipused"
	"github.com/herald-lb/herald/internal/optin"
)

// State is the allocator shared by the reconcilers, with what they need to
// tell each other. All fields are guarded by mu.
type State struct {
	reader client.Reader
	policy optin.Policy
	log    logr.Logger

	mu          sync.Mutex
	alloc       *allocator.Allocator
	synced      bool
	fingerprint string
	problems    map[string]string
	// pending holds the Services whose last allocation failed; they are
	// retried when Eips, namespaces or other Services' addresses change.
	pending map[string]struct{}
	// verdicts holds, by Eip, the last judgement of whether anything
	// serves its addresses, for the Services allocated from it next.
	verdicts map[string]servingVerdict
	// vrids is the VRID assignment of the vip pools' addresses.
	vrids vridBook
}

// NewState returns an empty State that restores itself through reader (the
// manager's cache) on first use.
func NewState(reader client.Reader, policy optin.Policy, log logr.Logger) *State {
	return &State{
		reader:   reader,
		policy:   policy,
		log:      log,
		alloc:    allocator.New(),
		problems: map[string]string{},
		pending:  map[string]struct{}{},
		verdicts: map[string]servingVerdict{},
	}
}

// lockSynced takes the lock, restoring the allocator from the cluster the
// first time: pools from the Eips, then every Service's addresses from its
// status, oldest Service first so that, should two claim one address, the
// one that had it first keeps it. The one exception are Services made
// Herald's by a migration opt-in whose addresses only a compact
// status.used records (recordedUnnamed): they come last.
func (s *State) lockSynced(ctx context.Context) error {
	s.mu.Lock()
	if err := s.refreshPoolsLocked(ctx); err != nil {
		s.mu.Unlock()
		return err
	}
	if s.synced {
		return nil
	}
	var services corev1.ServiceList
	if err := s.reader.List(ctx, &services); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("restore allocations: list services: %w", err)
	}
	slices.SortFunc(services.Items, func(a, b corev1.Service) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(serviceKey(&a), serviceKey(&b))
	})
	var recorded eipused.Recorded
	if s.policy.MetalLBAnnotations || s.policy.ClasslessServices {
		if err := s.readRecorded(ctx, &recorded); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	restored := 0
	// unnamed are migrated Services whose addresses only a compact
	// status.used records: restored after every other Service (see
	// recordedAs).
	var unnamed []heldAddrs
	for i := range services.Items {
		svc := &services.Items[i]
		addrs := ingressAddrs(svc)
		// A Service being deleted may already have released its address
		// to a younger one (its finalizer goes last): it must not take the
		// address back.
		if len(addrs) == 0 || !isOurs(svc, s.policy) || svc.DeletionTimestamp != nil {
			continue
		}
		nsLabels, err := s.namespaceLabels(ctx, svc.Namespace)
		if err != nil {
			// Fail the restore rather than restore on missing data; the
			// next reconcile tries again from the start.
			s.alloc = allocator.New()
			s.fingerprint = ""
			s.mu.Unlock()
			return fmt.Errorf("restore allocations: service %q: %w", serviceKey(svc), err)
		}
		req, err := requestFor(svc, nsLabels, s.policy)
		if err != nil {
			// Restore what it holds anyway; its reconcile reports the error.
			req = allocator.Request{Key: serviceKey(svc), Namespace: svc.Namespace, Families: []allocator.Family{allocator.IPv4, allocator.IPv6}}
		}
		if optin.ByMigrationOnly(svc, s.policy) {
			switch recordedAs(&recorded, serviceKey(svc), addrs) {
			case recordedUnnamed:
				unnamed = append(unnamed, heldAddrs{req: req, addrs: addrs})
				continue
			case notRecorded:
				// Its address may be another load balancer's doing (no
				// Eip's status says Herald gave it): kept only when inside
				// an Eip and free. Otherwise its reconcile allocates anew
				// and tells why (State.allocate).
				if err := s.alloc.Adopt(req, addrs); err != nil {
					s.log.Info("address in status of a Service taken over cannot be kept; it will be allocated anew",
						"service", serviceKey(svc), "ip", addrs, "reason", err.Error())
					continue
				}
				restored++
				continue
			}
		}
		if err := s.alloc.Restore(req, addrs); err != nil {
			s.log.Info("address in status conflicts with an older Service; it will be allocated anew",
				"service", serviceKey(svc), "ip", addrs, "reason", err.Error())
			continue
		}
		restored++
	}
	for _, h := range unnamed {
		if err := s.alloc.Restore(h.req, h.addrs); err != nil {
			s.log.Info("address in status is Herald's by a compact status.used, which names no Service, and another Service holds it; it will be allocated anew",
				"service", h.req.Key, "ip", h.addrs, "reason", err.Error())
			continue
		}
		restored++
	}
	s.synced = true
	s.log.Info("restored allocations from Service status", "services", restored)
	return nil
}

func (s *State) unlock() { s.mu.Unlock() }

// heldAddrs is a Service's addresses waiting to be restored.
type heldAddrs struct {
	req   allocator.Request
	addrs []netip.Addr
}

// readRecorded reads what every Eip's status says Herald gave, invalid
// Eips' included. A Service that a migration opt-in made Herald's is
// restored as Herald's own when its addresses are recorded there: then a
// pool that is invalid or gone for the moment must not cost it its
// address, as it would if its address were taken for one another load
// balancer gave. A compact form that does not decode is logged and left
// out: its Services are then adopted, which keeps their addresses while
// their pools are valid and free.
func (s *State) readRecorded(ctx context.Context, into *eipused.Recorded) error {
	var eips v1alpha2.EipList
	if err := s.reader.List(ctx, &eips, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("restore allocations: list eips: %w", err)
	}
	for i := range eips.Items {
		if err := into.Add(&eips.Items[i].Status); err != nil {
			s.log.Info("eip status cannot tell which addresses Herald gave; Services taken over from its addresses are adopted instead",
				"eip", eips.Items[i].Name, "reason", err.Error())
		}
	}
	return nil
}

// How the Eips' status records a migrated Service's addresses.
type recording int

const (
	// notRecorded: some address is recorded for other Services only, or
	// not at all; another load balancer may have given it.
	notRecorded recording = iota
	// recordedNamed: status.used names the Service for every address.
	recordedNamed
	// recordedUnnamed: every address is Herald's, but for some only a
	// compact status.used says so, which names no Service. Such a
	// Service is restored after all others, oldest first: Herald gave
	// the address to some Service, and one whose claim is certain (its
	// own or a named record) keeps it; the rest conflict and are
	// allocated anew. When no other Service claims it, as when nothing
	// went wrong, it is restored exactly as from the full map.
	recordedUnnamed
)

// recordedAs says how r records key's addresses.
func recordedAs(r *eipused.Recorded, key string, addrs []netip.Addr) recording {
	out := recordedNamed
	for _, a := range addrs {
		switch holders := r.Holders(a); {
		case slices.Contains(holders, key):
		case len(holders) > 0 || !r.InUse(a):
			return notRecorded
		default:
			out = recordedUnnamed
		}
	}
	if len(addrs) == 0 {
		return notRecorded
	}
	return out
}

// refreshPoolsLocked rebuilds the pools when an Eip changed.
func (s *State) refreshPoolsLocked(ctx context.Context) error {
	// Every allocation passes here: read the cache without copying, since
	// an Eip's status.used holds one entry per Service. Nothing below
	// writes to what it reads.
	var eips v1alpha2.EipList
	if err := s.reader.List(ctx, &eips, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list eips: %w", err)
	}
	fp := fingerprint(eips.Items)
	if fp == s.fingerprint {
		return nil
	}
	s.vrids.seedLocked(eips.Items)
	pools, problems := buildPools(eips.Items)
	s.vrids.vipPools = s.vrids.vipPools[:0]
	for _, p := range pools {
		if p.Protocol == v1alpha2.ProtocolVIP {
			s.vrids.vipPools = append(s.vrids.vipPools, p.Name)
		}
	}
	s.alloc.SetPools(pools)
	s.problems = problems
	s.fingerprint = fp
	return nil
}

// namespaceLabels reads the labels that namespaceSelector Eips match. Any
// failure is returned, for the caller to retry: taking it for "no labels"
// would give the Service the default Eip, and nothing would move it back
// once the read works again. That includes NotFound: a Service exists only
// in a namespace that exists (a namespace being deleted is still there,
// Terminating, until its Services are gone), so the namespace missing
// from the cache means the cache has not caught up yet, as when a
// namespace and a Service are applied together and the Service's event is
// handled first.
func (s *State) namespaceLabels(ctx context.Context, name string) (map[string]string, error) {
	var ns corev1.Namespace
	if err := s.reader.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("namespace %q: not in the cache yet: %w", name, err)
		}
		return nil, fmt.Errorf("namespace %q: read labels: %w", name, err)
	}
	return ns.Labels, nil
}

// poolsOf names the pools of some addresses, for events and Eip status.
func (s *State) poolsOfLocked(addrs []netip.Addr) []string {
	var names []string
	for _, a := range addrs {
		if name, ok := s.alloc.PoolOf(a); ok && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// pendingKeys returns the Services waiting for an address, optionally only
// those of one namespace.
func (s *State) pendingKeys(namespace string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.pending {
		if namespace == "" || strings.HasPrefix(k, namespace+"/") {
			keys = append(keys, k)
		}
	}
	return keys
}

// allocation is the outcome of one Service's allocation.
type allocation struct {
	addrs []netip.Addr
	// pools are the Eips the Service's addresses come from, now and before.
	pools []string
	// notServed says, for each Eip the Service's addresses come from now
	// that nothing serves, why.
	notServed []servingVerdict
	err       error
	// notKept says why the addresses in the Service's status, which Herald
	// did not hold, could not be kept (see State.allocate); empty when
	// there was nothing to keep or they were kept.
	notKept string
}

// setVerdict records whether anything serves an Eip's addresses.
func (s *State) setVerdict(eip string, v servingVerdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.served() {
		delete(s.verdicts, eip)
	} else {
		s.verdicts[eip] = v
	}
}

// allocate runs the allocator for one Service and records whether it is
// left waiting. status is what the Service's status.loadBalancer holds: a
// Service Herald holds nothing for that has addresses there got them
// elsewhere (MetalLB, before a migration opt-in made it Herald's) or lost
// them in a conflict at restore; they are kept when Allocator.Adopt allows,
// so a takeover does not move the Service's address.
func (s *State) allocate(ctx context.Context, req allocator.Request, status []netip.Addr) (allocation, error) {
	if err := s.lockSynced(ctx); err != nil {
		return allocation{}, err
	}
	defer s.unlock()
	before := s.alloc.Addresses(req.Key)
	var notKept string
	if len(before) == 0 && len(status) > 0 && (len(req.Addresses) == 0 || sameAddrs(req.Addresses, status)) {
		if err := s.alloc.Adopt(req, status); err != nil {
			notKept = err.Error()
		}
	}
	addrs, err := s.alloc.Allocate(req)
	if err != nil && len(addrs) == 0 {
		s.pending[req.Key] = struct{}{}
	} else {
		delete(s.pending, req.Key)
	}
	out := allocation{addrs: addrs, pools: s.poolsOfLocked(append(before, addrs...)), err: err, notKept: notKept}
	if len(s.verdicts) > 0 {
		out.notServed = notServed(s.verdicts, s.poolsOfLocked(addrs))
	}
	return out, nil
}

// release frees a Service's addresses and returns the pools they were in.
func (s *State) release(ctx context.Context, key string) ([]netip.Addr, []string, error) {
	if err := s.lockSynced(ctx); err != nil {
		return nil, nil, err
	}
	defer s.unlock()
	delete(s.pending, key)
	addrs := s.alloc.Addresses(key)
	pools := s.poolsOfLocked(addrs)
	s.alloc.Release(key)
	return addrs, pools, nil
}

// poolReport is what the Eip reconciler writes into an Eip's status.
type poolReport struct {
	valid    bool
	problem  string
	protocol string
	// size is how many addresses the pool may hand out (avoidBuggyIPs
	// leaves .0 and .255 out).
	size uint64
	// full is true when no usable address is free.
	full bool
	used map[netip.Addr][]string
	// unusable are held addresses the pool would not hand out now: they
	// were allocated before avoidBuggyIPs was set, and stay.
	unusable []netip.Addr
	deleting bool
	// vrid is set for vip pools only.
	vrid *vridReport
}

func (s *State) report(ctx context.Context, name string) (poolReport, error) {
	if err := s.lockSynced(ctx); err != nil {
		return poolReport{}, err
	}
	defer s.unlock()
	if problem, bad := s.problems[name]; bad {
		return poolReport{problem: problem}, nil
	}
	p, ok := s.alloc.Pool(name)
	if !ok {
		return poolReport{problem: "not yet seen by the allocator"}, nil
	}
	rep := poolReport{valid: true, protocol: p.Protocol, size: p.UsableSize(), full: s.alloc.Full(name),
		used: s.alloc.Usage(name), unusable: s.alloc.Unusable(name), deleting: p.Deleting}
	if p.Protocol == v1alpha2.ProtocolVIP {
		vr := s.assignVRIDsLocked(name, rep.used)
		rep.vrid = &vr
	}
	return rep, nil
}

// inUse is how many addresses of a pool are held; cheap, unlike report.
func (s *State) inUse(ctx context.Context, name string) (uint64, error) {
	if err := s.lockSynced(ctx); err != nil {
		return 0, err
	}
	defer s.unlock()
	return s.alloc.InUse(name), nil
}
