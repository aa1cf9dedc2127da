package bgp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	api "github.com/osrg/gobgp/v3/api"
)

// The export policy carries what differs between neighbours; everything
// else rides on the paths (routeSpec).
//
// GoBGP v3 evaluates per-neighbour policies only for route-server clients,
// so the policy is the global export policy, whose statements match the
// neighbour with a neighbour set of one address: first a REJECT statement
// per neighbour for the prefixes it must not get, then, per neighbour and
// per set of attributes, an ACCEPT statement that adds them. The default
// is ACCEPT. Each change installs a new generation of the policy and its
// sets and then deletes the old one, so GoBGP never sees a half-built
// policy.
//
// What a change costs. A change of attributes that every neighbour getting
// the route shares is a new path: one UPDATE per session. GoBGP applies a
// new policy only to the updates it sends afterwards, and skips a path
// added again unchanged, so a neighbour that must get an unchanged path it
// did not get, or get it with other attributes of the policy, is sent its
// routes again with a soft reset out (ResetPeer, soft, out): one UPDATE per
// route to that neighbour, no session reset (Router.resendNeeded). Routes
// that only become hidden from a neighbour, or new routes, need none. A neighbour that must stop getting a
// route cannot be sent a withdrawal through a policy (GoBGP checks the old
// path against the new policy and finds nothing was sent), so the route is
// withdrawn from every neighbour before the new policy is installed and
// announced again after it: the neighbours that keep it see a withdrawal
// and an announcement. That happens only when an advertisement's peers,
// its peerSelector or a BgpPeer's labels change, never for attributes.

// exportStatement is one statement of the export policy: the prefixes of
// one family that neighbour must not get, or that it gets with attrs.
type exportStatement struct {
	neighbor netip.Addr
	prefixes []netip.Prefix
	reject   bool
	attrs    Attrs
}

// exportPolicy is the whole policy, in evaluation order.
type exportPolicy []exportStatement

func (s exportStatement) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s reject=%t %s", s.neighbor, s.reject, s.attrs.key())
	for _, p := range s.prefixes {
		b.WriteString(" " + p.String())
	}
	return b.String()
}

// buildExport is the policy for want, given the neighbours that run.
func buildExport(want map[netip.Prefix]routeSpec, neighbors []netip.Addr) exportPolicy {
	type group struct {
		neighbor netip.Addr
		v6       bool
		reject   bool
		attrs    string
	}
	groups := map[group]*exportStatement{}
	add := func(g group, p netip.Prefix, attrs Attrs) {
		st := groups[g]
		if st == nil {
			st = &exportStatement{neighbor: g.neighbor, reject: g.reject, attrs: attrs}
			groups[g] = st
		}
		st.prefixes = append(st.prefixes, p)
	}
	for prefix, s := range want {
		v6 := prefix.Addr().Is6()
		for _, n := range neighbors {
			if !s.gets(n) {
				add(group{neighbor: n, v6: v6, reject: true}, prefix, Attrs{})
				continue
			}
			if at, ok := s.per[n]; ok {
				add(group{neighbor: n, v6: v6, attrs: at.key()}, prefix, at)
			}
		}
	}
	out := make(exportPolicy, 0, len(groups))
	for _, st := range groups {
		slices.SortFunc(st.prefixes, comparePrefix)
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b exportStatement) int {
		if a.reject != b.reject {
			if a.reject {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key(), b.key())
	})
	return out
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

func (p exportPolicy) equal(o exportPolicy) bool {
	return slices.EqualFunc(p, o, func(a, b exportStatement) bool { return a.key() == b.key() })
}

// appliedExport is the export policy GoBGP runs, with the names to delete
// it by.
type appliedExport struct {
	policy exportPolicy
	name   string
	sets   []*api.DefinedSet
}

// installExport makes GoBGP run p.
func (r *Router) installExport(ctx context.Context, p exportPolicy) error {
	old := r.export
	if old.policy.equal(p) {
		return nil
	}
	next := appliedExport{policy: p}
	if len(p) > 0 {
		r.exportGen++
		next.name = fmt.Sprintf("herald-export-%d", r.exportGen)
		policy := &api.Policy{Name: next.name}
		for i, st := range p {
			ns := &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: fmt.Sprintf("%s-%d-n", next.name, i),
				List: []string{netip.PrefixFrom(st.neighbor, st.neighbor.BitLen()).String()}}
			ps := &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: fmt.Sprintf("%s-%d-p", next.name, i)}
			for _, pr := range st.prefixes {
				ps.Prefixes = append(ps.Prefixes, &api.Prefix{IpPrefix: pr.String(), MaskLengthMin: uint32(pr.Bits()), MaskLengthMax: uint32(pr.Bits())})
			}
			for _, set := range []*api.DefinedSet{ns, ps} {
				if err := r.srv.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: set}); err != nil {
					return errors.Join(fmt.Errorf("export policy: add set %s: %w", set.Name, err), r.deleteExport(ctx, next))
				}
				next.sets = append(next.sets, set)
			}
			policy.Statements = append(policy.Statements, &api.Statement{
				Name: fmt.Sprintf("%s-%d", next.name, i),
				Conditions: &api.Conditions{
					PrefixSet:   &api.MatchSet{Type: api.MatchSet_ANY, Name: ps.Name},
					NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: ns.Name},
				},
				Actions: exportActions(st),
			})
		}
		if err := r.srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: policy}); err != nil {
			return errors.Join(fmt.Errorf("export policy: add: %w", err), r.deleteExport(ctx, next))
		}
		err := r.srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: api.PolicyDirection_EXPORT,
			Policies: []*api.Policy{{Name: next.name}}, DefaultAction: api.RouteAction_ACCEPT,
		}})
		if err != nil {
			return errors.Join(fmt.Errorf("export policy: assign: %w", err), r.deleteExport(ctx, next))
		}
	} else if old.name != "" {
		// No policy, default ACCEPT, as at start. Not
		// DeletePolicyAssignment: with All it also clears the default
		// action, and GoBGP then rejects every route it exports.
		err := r.srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: api.PolicyDirection_EXPORT, DefaultAction: api.RouteAction_ACCEPT,
		}})
		if err != nil {
			return fmt.Errorf("export policy: unassign: %w", err)
		}
	}
	r.export = next
	if err := r.deleteExport(ctx, old); err != nil {
		r.log.Error(err, "old export policy left in GoBGP")
	}
	return nil
}

// deleteExport removes a policy generation that is no longer assigned.
func (r *Router) deleteExport(ctx context.Context, e appliedExport) error {
	var errs []error
	if e.name != "" {
		if err := r.srv.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: e.name}, All: true}); err != nil {
			errs = append(errs, fmt.Errorf("delete policy %s: %w", e.name, err))
		}
	}
	for _, s := range e.sets {
		if err := r.srv.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: s.DefinedType, Name: s.Name}, All: true}); err != nil {
			errs = append(errs, fmt.Errorf("delete set %s: %w", s.Name, err))
		}
	}
	return errors.Join(errs...)
}

func exportActions(st exportStatement) *api.Actions {
	if st.reject {
		return &api.Actions{RouteAction: api.RouteAction_REJECT}
	}
	a := &api.Actions{RouteAction: api.RouteAction_ACCEPT}
	if st.attrs.LocalPref != 0 {
		a.LocalPref = &api.LocalPrefAction{Value: st.attrs.LocalPref}
	}
	if len(st.attrs.Communities) > 0 {
		c := &api.CommunityAction{Type: api.CommunityAction_ADD}
		for _, v := range st.attrs.Communities {
			c.Communities = append(c.Communities, fmt.Sprintf("%d:%d", v>>16, v&0xffff))
		}
		a.Community = c
	}
	if len(st.attrs.LargeCommunities) > 0 {
		c := &api.CommunityAction{Type: api.CommunityAction_ADD}
		for _, v := range st.attrs.LargeCommunities {
			c.Communities = append(c.Communities, v.String())
		}
		a.LargeCommunity = c
	}
	return a
}

// softResetOut sends neighbour a its routes again under the current export
// policy, without resetting the session.
func (r *Router) softResetOut(ctx context.Context, a netip.Addr) error {
	err := r.srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: a.String(), Soft: true, Direction: api.ResetPeerRequest_OUT})
	if err != nil {
		return fmt.Errorf("neighbour %s: soft reset out: %w", a, err)
	}
	return nil
}
