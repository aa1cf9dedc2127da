package controllers

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eipused"
	"github.com/herald-lb/herald/keepalived"
)

// Reasons of the VRIDsAssigned condition on vip Eips.
const (
	// ReasonVRIDsAssigned: every address of the Eip in use has a VRID.
	ReasonVRIDsAssigned = "Assigned"
	// ReasonVRIDRangeExhausted: some have none, because every VRID of
	// their family in the controller's range is taken. Also the reason of
	// the Warning events on the Eip and on the Services left without one.
	ReasonVRIDRangeExhausted = "VRIDRangeExhausted"
)

// vridBook is the State's record of which VIP address has which VRID. It
// is seeded once from what the vip Eips' status.vrids say, at the first
// use of the State (after the caches have synced, before anything is
// allocated), so a restarted or newly elected controller continues with
// the assignment its predecessor persisted; from then on it is the
// assignment, and the Eip statuses follow it. Guarded by State.mu.
type vridBook struct {
	pool    keepalived.VRIDPool
	seeded  bool
	current map[netip.Addr]keepalived.VRID
	// vipPools are the accepted vip pools, by name, as of the last
	// rebuild of the pools.
	vipPools []string
}

// seedLocked reads the persisted assignment from the Eips, once. Should two
// Eips list one address (an overlap, or a hand edit), the Eip whose name
// sorts first wins; AssignVRIDs later drops what is not valid.
func (b *vridBook) seedLocked(eips []v1alpha2.Eip) {
	if b.seeded {
		return
	}
	b.seeded = true
	b.current = map[netip.Addr]keepalived.VRID{}
	sorted := slices.Clone(eips)
	slices.SortFunc(sorted, func(x, y v1alpha2.Eip) int { return cmp.Compare(x.Name, y.Name) })
	for i := range sorted {
		for text, v := range sorted[i].Status.VRIDs {
			a, err := netip.ParseAddr(text)
			if err != nil || v < 1 || v > 255 {
				continue
			}
			if _, taken := b.current[a.Unmap()]; !taken {
				b.current[a.Unmap()] = keepalived.VRID(v)
			}
		}
	}
}

// vridReport is what the Eip reconciler writes about one vip Eip's VRIDs.
type vridReport struct {
	// vrids of the Eip's addresses in use.
	vrids map[netip.Addr]keepalived.VRID
	// missing are its addresses in use without a VRID, sorted.
	missing []netip.Addr
	// gained names the other vip Eips some of whose addresses got a VRID
	// by this assignment; their status must be rewritten.
	gained   []string
	poolSize int
}

// assignVRIDsLocked runs keepalived.AssignVRIDs over every address in use
// of every accepted vip pool, with the book as the current assignment, and
// reports on the addresses in used (one pool's).
func (s *State) assignVRIDsLocked(pool string, used map[netip.Addr][]string) vridReport {
	var inUse []netip.Addr
	for _, name := range s.vrids.vipPools {
		for a := range s.alloc.Usage(name) {
			inUse = append(inUse, a)
		}
	}
	// The error only names the addresses left out, which the loop below
	// finds for this pool; the others' are reported by their own Eips.
	next, _ := keepalived.AssignVRIDs(inUse, s.vrids.current, s.vrids.pool)
	rep := vridReport{vrids: map[netip.Addr]keepalived.VRID{}, poolSize: s.vrids.pool.Size()}
	for a, v := range next {
		if old, ok := s.vrids.current[a]; ok && old == v {
			continue
		}
		// Newly assigned: its own Eip writes it when it is reconciled,
		// which an allocation triggers but a VRID freed elsewhere does not.
		if name, ok := s.alloc.PoolOf(a); ok && name != pool && !slices.Contains(rep.gained, name) {
			rep.gained = append(rep.gained, name)
		}
	}
	s.vrids.current = next
	for a := range used {
		if v, ok := next[a.Unmap()]; ok {
			rep.vrids[a] = v
		} else {
			rep.missing = append(rep.missing, a)
		}
	}
	slices.SortFunc(rep.missing, netip.Addr.Compare)
	return rep
}

// awaitsVRID reports whether a vip Eip has more addresses in use than its
// status gives VRIDs, while its VRID range is not exhausted (then they
// wait for a VRID to be freed, and the status need not hurry).
func awaitsVRID(eip *v1alpha2.Eip, inUse uint64) bool {
	if eip.Spec.Protocol != v1alpha2.ProtocolVIP || inUse <= uint64(len(eip.Status.VRIDs)) {
		return false
	}
	c := meta.FindStatusCondition(eip.Status.Conditions, v1alpha2.ConditionVRIDsAssigned)
	return c == nil || c.Reason != ReasonVRIDRangeExhausted
}

// applyVRIDs writes a vip Eip's VRIDs and the VRIDsAssigned condition into
// st, and asks for the other vip Eips whose addresses just got a VRID to be
// rewritten. Other Eips, and vip Eips the allocator did not accept, carry
// neither.
func (r *EipReconciler) applyVRIDs(ctx context.Context, eip *v1alpha2.Eip, st *v1alpha2.EipStatus, rep poolReport) {
	if rep.vrid == nil {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha2.ConditionVRIDsAssigned)
		return
	}
	vr := rep.vrid
	if len(vr.vrids) > 0 {
		st.VRIDs = make(map[string]int32, len(vr.vrids))
		for a, v := range vr.vrids {
			st.VRIDs[a.String()] = int32(v)
		}
	}
	cond := metav1.Condition{
		Type: v1alpha2.ConditionVRIDsAssigned, Status: metav1.ConditionTrue, Reason: ReasonVRIDsAssigned,
		ObservedGeneration: eip.Generation,
		Message: fmt.Sprintf("%d address(es) in use, each with its VRID in status.vrids; the VRID range gives %d VRIDs per address family",
			len(vr.vrids), vr.poolSize),
	}
	if len(vr.missing) > 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, ReasonVRIDRangeExhausted
		cond.Message = fmt.Sprintf("%d address(es) in use have no VRID: %s. The VRID range gives %d VRIDs per address family, "+
			"shared by every vip Eip, and all are taken, so no node serves these addresses. "+
			"Fix: widen herald-controller's --vrrp-vrid-range or drop entries from --vrrp-vrid-exclude (keep clear of other VRRP routers on the LAN), "+
			"or release addresses of vip Eips",
			len(vr.missing), summarizeAddrs(vr.missing), vr.poolSize)
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	if r.changed == nil {
		return // not set up with a manager: nobody to ask
	}
	for _, name := range vr.gained {
		e := &v1alpha2.Eip{}
		e.Name = name
		select {
		case r.changed <- event.TypedGenericEvent[*v1alpha2.Eip]{Object: e}:
		case <-ctx.Done():
			return
		}
	}
}

// previousForVRIDs keeps what announceVRIDs compares with, before the
// status is written; only vip Eips need it, and a copy of a large pool's
// status.used is not free.
func (r *EipReconciler) previousForVRIDs(eip *v1alpha2.Eip, rep poolReport) *v1alpha2.EipStatus {
	if rep.vrid == nil {
		return nil
	}
	return eip.Status.DeepCopy()
}

// announceVRIDs tells of addresses newly left without a VRID once, after
// the status that records it is written: an Info log line, a Warning event
// on the Eip and one on each Service holding such an address; and of the
// end of the shortage with a Normal event. The previous status is the
// memory, so a restart repeats nothing.
func (r *EipReconciler) announceVRIDs(ctx context.Context, eip *v1alpha2.Eip, prev *v1alpha2.EipStatus, st *v1alpha2.EipStatus, rep poolReport) {
	now := meta.FindStatusCondition(st.Conditions, v1alpha2.ConditionVRIDsAssigned)
	if rep.vrid == nil || prev == nil || now == nil {
		return
	}
	before := meta.FindStatusCondition(prev.Conditions, v1alpha2.ConditionVRIDsAssigned)
	logger := log.FromContext(ctx).WithValues("eip", eip.Name)
	if now.Status == metav1.ConditionTrue {
		if before != nil && before.Status == metav1.ConditionFalse {
			logger.Info("every address of this vip Eip has a VRID again")
			r.Recorder.Eventf(eip, nil, corev1.EventTypeNormal, ReasonVRIDsAssigned, "AssignVRIDs", "every address in use has a VRID again")
		}
		return
	}
	var fresh []netip.Addr
	var was eipused.Recorded
	_ = was.Add(prev) // a compact form that does not decode records nothing: its addresses count as new
	for _, a := range rep.vrid.missing {
		_, hadVRID := prev.VRIDs[a.String()]
		if before == nil || !was.InUse(a) || hadVRID {
			fresh = append(fresh, a)
		}
	}
	if len(fresh) == 0 {
		return
	}
	logger.Info("VRID range exhausted: addresses of this vip Eip have no VRID", "ip", summarizeAddrs(fresh), "message", now.Message)
	r.Recorder.Eventf(eip, nil, corev1.EventTypeWarning, ReasonVRIDRangeExhausted, "AssignVRIDs", "%s", now.Message)
	for _, a := range fresh {
		for _, key := range rep.used[a] {
			r.warnNoVRID(ctx, key, eip.Name, a, rep.vrid.poolSize)
		}
	}
}

// warnNoVRID records on one Service that its address has no VRID.
func (r *EipReconciler) warnNoVRID(ctx context.Context, key, eip string, a netip.Addr, poolSize int) {
	var svc corev1.Service
	ns, name, _ := strings.Cut(key, "/")
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		return // gone: nobody to tell
	}
	r.Recorder.Eventf(&svc, nil, corev1.EventTypeWarning, ReasonVRIDRangeExhausted, "AssignVRIDs",
		"address %s from vip Eip %s has no VRID, so no node serves it: the VRID range gives %d VRIDs per address family and all are taken. "+
			"Fix: widen herald-controller's --vrrp-vrid-range or drop entries from --vrrp-vrid-exclude", a, eip, poolSize)
}

func summarizeAddrs(addrs []netip.Addr) string {
	const max = 5
	names := make([]string, 0, min(len(addrs), max))
	for _, a := range addrs[:min(len(addrs), max)] {
		names = append(names, a.String())
	}
	if len(addrs) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names, ", "), len(addrs)-max)
}
