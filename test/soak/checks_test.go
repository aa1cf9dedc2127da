package soak

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// settleWithin bounds each final wait; the controller needs at most a few
// seconds after the last restart (a Lease to expire) and a status interval.
const settleWithin = 45 * time.Second

// waitSettled polls the observer every 100 ms until no deletion is
// pending and no live Service without an address could get one, and
// returns that snapshot.
func waitSettled(ctx context.Context, t *testing.T, obs *observer, pools []*poolState) snapshot {
	t.Helper()
	deadline := time.Now().Add(settleWithin)
	for {
		snap := obs.snapshot()
		waiting := unserved(snap, pools)
		if snap.deleting == 0 && len(waiting) == 0 {
			return snap
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("not settled within %s: %d deletions pending; %d Services could have an address but have none:\n%s",
				settleWithin, snap.deleting, len(waiting), joinLines(waiting))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unserved lists the live Services without an address that could get one
// in the state snap shows, and why.
func unserved(snap snapshot, pools []*poolState) []string {
	var out []string
	for _, svc := range snap.live {
		if ingressOf(svc) != "" {
			continue
		}
		if why, ok := canGet(svc, snap, pools); ok {
			out = append(out, fmt.Sprintf("%s/%s: %s", svc.Namespace, svc.Name, why))
		}
	}
	return out
}

// canGet models OpenELB's rules for the soak's pools: a requested address
// is granted when a pool admitting the namespace holds it and no live
// Service shows it; a named pool serves while it has a free address; an
// automatic Service draws from the pool bound to its namespace, else the
// default pool.
func canGet(svc *corev1.Service, snap snapshot, pools []*poolState) (string, bool) {
	if text := svc.Annotations[v1alpha2.AnnotationRequestedIP]; text != "" {
		addr := netip.MustParseAddr(text)
		for _, p := range pools {
			if !p.prefix().Contains(addr) {
				continue
			}
			if _, held := snap.held[text]; held || !p.admits(svc.Namespace) {
				return "", false
			}
			return fmt.Sprintf("requested %s is free in %s", text, p.name), true
		}
		return "", false
	}
	var p *poolState
	if name := svc.Annotations[v1alpha2.AnnotationEip]; name != "" {
		p = poolNamed(pools, name)
	} else {
		p = autoPool(pools, svc.Namespace)
	}
	if p == nil || !p.admits(svc.Namespace) {
		return "", false
	}
	if free := p.size() - len(heldIn(snap, p)); free > 0 {
		return fmt.Sprintf("%s has %d free", p.name, free), true
	}
	return "", false
}

func poolNamed(pools []*poolState, name string) *poolState {
	for _, p := range pools {
		if p.name == name {
			return p
		}
	}
	return nil
}

// autoPool is where an automatic Service of ns draws from: a pool bound to
// ns, else the default pool.
func autoPool(pools []*poolState, ns string) *poolState {
	var dflt *poolState
	for _, p := range pools {
		if slices.Contains(p.namespaces, ns) {
			return p
		}
		if p.isDefault {
			dflt = p
		}
	}
	return dflt
}

// heldIn maps the addresses of p that live Services show to their keys.
func heldIn(snap snapshot, p *poolState) map[string]string {
	out := map[string]string{}
	for ip, key := range snap.held {
		if p.prefix().Contains(netip.MustParseAddr(ip)) {
			out[ip] = key
		}
	}
	return out
}

// checkPlacement checks that each addressed Service got what it asked
// for: its requested address, an address of the pool it names, or one of
// the pool bound to its namespace (else the default pool).
func checkPlacement(t *testing.T, snap snapshot, pools []*poolState) {
	t.Helper()
	for _, svc := range snap.live {
		got := ingressOf(svc)
		if got == "" {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		if want := svc.Annotations[v1alpha2.AnnotationRequestedIP]; want != "" {
			if got != want {
				t.Errorf("%s requested %s but shows %s", key, want, got)
			}
			continue
		}
		p := autoPool(pools, svc.Namespace)
		if name := svc.Annotations[v1alpha2.AnnotationEip]; name != "" {
			p = poolNamed(pools, name)
		}
		addr, err := netip.ParseAddr(got)
		if err != nil || !p.prefix().Contains(addr) {
			t.Errorf("%s shows %s, want an address of Eip %s (%s)", key, got, p.name, p.prefix())
		}
	}
}

// checkEips polls (every 200 ms, bounded) until each Eip's status agrees
// with what the live Services show: usage is the number of distinct
// addresses held, used maps exactly those to their holders, poolSize is
// the pool's current size.
func checkEips(ctx context.Context, t *testing.T, obs *observer, pools []*poolState) {
	t.Helper()
	deadline := time.Now().Add(settleWithin)
	for {
		var problems []string
		snap := obs.snapshot()
		for _, p := range pools {
			var eip v1alpha2.Eip
			if err := env.Client.Get(ctx, client.ObjectKey{Name: p.name}, &eip); err != nil {
				problems = append(problems, fmt.Sprintf("get eip %s: %v", p.name, err))
				continue
			}
			want := heldIn(snap, p)
			st := eip.Status
			if st.Usage != len(want) || st.PoolSize != p.size() || !maps.Equal(usedOf(st.Used), want) {
				problems = append(problems, fmt.Sprintf("eip %s: status usage %d, poolSize %d, used %v; Services show %d addresses of %d: %v",
					p.name, st.Usage, st.PoolSize, st.Used, len(want), p.size(), want))
			}
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Errorf("Eip status does not match the Services within %s:\n%s", settleWithin, joinLines(problems))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// usedOf reads status.used (address -> "ns/name;ns/name") as address ->
// holder; the soak never shares, so more than one holder is kept as
// written and cannot match.
func usedOf(used map[string]string) map[string]string {
	out := make(map[string]string, len(used))
	for ip, holders := range used {
		out[ip] = strings.TrimSpace(holders)
	}
	return out
}
