package bgp

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
)

// routeSpec is how one prefix is announced: the Paths that list it,
// compiled. Attributes every neighbour that gets the route shares ride on
// the path itself, so that changing them is one UPDATE per session. Only
// what differs between neighbours goes through GoBGP's export policy
// (exportPolicy): the neighbours that must not get the route (only), and
// the attributes of each neighbour when they differ (per).
type routeSpec struct {
	nextHop netip.Addr
	// attrs ride on the path.
	attrs Attrs
	// only, when not nil, are the only neighbours that get the route,
	// sorted.
	only []netip.Addr
	// per are the attributes each neighbour gets when they are not the same
	// for all of them (attrs is then zero); a neighbour missing here gets
	// none.
	per map[netip.Addr]Attrs
}

// gets reports whether neighbour a gets the route.
func (s routeSpec) gets(a netip.Addr) bool {
	return s.only == nil || slices.Contains(s.only, a)
}

func (s routeSpec) equal(o routeSpec) bool {
	return s.nextHop == o.nextHop && s.attrs.Equal(o.attrs) && slices.Equal(s.only, o.only) && (s.only == nil) == (o.only == nil) &&
		maps.EqualFunc(s.per, o.per, Attrs.Equal)
}

// path is the path handed to GoBGP.
func (s routeSpec) path(prefix netip.Prefix) Path {
	return Path{Prefix: prefix, NextHop: s.nextHop, Attrs: s.attrs}
}

// pathTable checks the paths and compiles them by prefix. Prefixes must be
// canonical (host bits zero): two spellings of one route would otherwise
// be two entries, and GoBGP would mask them into one route behind the
// table's back. Entries of one prefix must agree on the next hop, and
// either be one entry for every peer or name disjoint peers.
func pathTable(paths []Path) (map[netip.Prefix]routeSpec, error) {
	byPrefix := map[netip.Prefix][]Path{}
	var order []netip.Prefix
	for _, p := range paths {
		if !p.Prefix.IsValid() || p.Prefix.Addr().Is4In6() || p.Prefix.Addr().Zone() != "" {
			return nil, fmt.Errorf("path %s: not an IPv4 or IPv6 prefix", p.Prefix)
		}
		if m := p.Prefix.Masked(); m != p.Prefix {
			return nil, fmt.Errorf("path %s: host bits set (the route is %s)", p.Prefix, m)
		}
		if _, seen := byPrefix[p.Prefix]; !seen {
			order = append(order, p.Prefix)
		}
		byPrefix[p.Prefix] = append(byPrefix[p.Prefix], p)
	}
	want := make(map[netip.Prefix]routeSpec, len(byPrefix))
	for _, prefix := range order {
		s, err := compileRoute(byPrefix[prefix])
		if err != nil {
			return nil, fmt.Errorf("path %s: %w", prefix, err)
		}
		want[prefix] = s
	}
	return want, nil
}

func compileRoute(entries []Path) (routeSpec, error) {
	first := entries[0]
	s := routeSpec{nextHop: first.NextHop}
	everyPeer := false
	perPeer := map[netip.Addr]Attrs{}
	for _, e := range entries {
		if e.NextHop != s.nextHop {
			return routeSpec{}, fmt.Errorf("listed twice, with next hops %v and %v", s.nextHop, e.NextHop)
		}
		if e.Peers == nil {
			if everyPeer && !e.Attrs.Equal(s.attrs) {
				return routeSpec{}, fmt.Errorf("listed twice for every peer, with different attributes")
			}
			everyPeer, s.attrs = true, e.Attrs
			continue
		}
		for _, a := range e.Peers {
			if old, dup := perPeer[a]; dup && !old.Equal(e.Attrs) {
				return routeSpec{}, fmt.Errorf("listed twice for neighbour %s, with different attributes", a)
			}
			perPeer[a] = e.Attrs
		}
	}
	if everyPeer {
		if len(perPeer) > 0 {
			return routeSpec{}, fmt.Errorf("listed both for every peer and for some")
		}
		return s, nil
	}
	s.only = slices.SortedFunc(maps.Keys(perPeer), netip.Addr.Compare)
	if s.only == nil {
		s.only = []netip.Addr{} // listed for no peer: announced to none
	}
	uniform := true
	for _, a := range s.only {
		uniform = uniform && perPeer[a].Equal(perPeer[s.only[0]])
	}
	switch {
	case len(s.only) == 0:
	case uniform:
		s.attrs = perPeer[s.only[0]]
	default:
		s.per = map[netip.Addr]Attrs{}
		for a, at := range perPeer {
			if !at.IsZero() {
				s.per[a] = at
			}
		}
	}
	return s, nil
}
