package bgp

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/community"
)

// Route is one route the node announces, before the bgpAdvertisements of
// its Eip apply.
type Route struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
	// Eip names the Eip whose address Prefix is (a host route); empty for
	// Service ranges and the other routes, which go to every peer as they
	// are.
	Eip string
	// Local marks an address announced only by the nodes with a ready
	// endpoint (externalTrafficPolicy Local): it stays a host route and is
	// never aggregated, so that routers keep sending its traffic to those
	// nodes only.
	Local bool
}

// Advertise turns routes into the paths the router announces, applying
// each Eip's bgpAdvertisements (ads, by Eip name) for the peers that run:
// each advertisement sends the route, or the aggregate of the length it
// asks that holds it, with its attributes, to the peers it selects (by name
// or label; both empty means every peer). An aggregate is one path however
// many addresses inside it are in use, and goes when the last one goes. A
// peer that no advertisement of an Eip selects gets none of its routes. An
// Eip without advertisements keeps the plain host routes to every peer.
//
// When two advertisements give one prefix to one peer, the route carries
// the communities of both and the higher local preference; a note says so.
// Communities that cannot be read are left out, and the rest of the
// advertisement applies; a problem says so. aliases are BgpConf's
// spec.communities.
func Advertise(routes []Route, ads map[string][]v1alpha2.BgpAdvertisement, aliases []v1alpha2.CommunityAlias, peers []Peer) (paths []Path, notes []string) {
	aliasMap := make(map[string]string, len(aliases))
	for _, a := range aliases {
		aliasMap[a.Name] = a.Value
	}
	compiled := map[string][]advertisement{}
	type entry struct {
		nextHop   netip.Addr
		everyPeer bool
		to        map[netip.Addr]Attrs
		// by is the advertisement that first gave the route to each
		// neighbour: the same one again is the next address inside an
		// aggregate, not a second advertisement.
		by map[netip.Addr]string
	}
	entries := map[netip.Prefix]*entry{}
	get := func(p netip.Prefix, nh netip.Addr) *entry {
		e := entries[p]
		if e == nil {
			e = &entry{nextHop: nh, to: map[netip.Addr]Attrs{}, by: map[netip.Addr]string{}}
			entries[p] = e
		}
		return e
	}
	for _, r := range routes {
		list := ads[r.Eip]
		if r.Eip == "" || len(list) == 0 {
			get(r.Prefix, r.NextHop).everyPeer = true
			continue
		}
		advs, ok := compiled[r.Eip]
		if !ok {
			for i := range list {
				a, problems := compileAdvertisement(r.Eip, i, &list[i], aliasMap, peers)
				notes = append(notes, problems...)
				advs = append(advs, a)
			}
			compiled[r.Eip] = advs
		}
		for i, a := range advs {
			id := fmt.Sprintf("%s/%d", r.Eip, i)
			prefix := r.Prefix
			if !r.Local && r.Prefix.IsSingleIP() {
				bits := a.length4
				if prefix.Addr().Is6() {
					bits = a.length6
				}
				prefix = netip.PrefixFrom(prefix.Addr(), min(bits, prefix.Bits())).Masked()
			}
			e := get(prefix, r.NextHop)
			for _, n := range a.peers {
				if old, dup := e.to[n]; dup {
					if e.by[n] == id {
						continue
					}
					if !r.Local { // expected: Local addresses are never aggregated
						notes = append(notes, fmt.Sprintf("eip %q: two advertisements give %s to neighbour %s; it carries the communities of both and the higher localPref", r.Eip, prefix, n))
					}
					e.to[n] = old.merge(a.attrs)
					continue
				}
				e.to[n], e.by[n] = a.attrs, id
			}
		}
	}
	for _, prefix := range slices.SortedFunc(maps.Keys(entries), comparePrefix) {
		e := entries[prefix]
		if e.everyPeer {
			if len(e.to) == 0 {
				paths = append(paths, Path{Prefix: prefix, NextHop: e.nextHop})
				continue
			}
			for _, p := range peers { // a plain route too: every peer gets it
				e.to[p.Address] = e.to[p.Address].merge(Attrs{})
			}
		}
		// One path per set of attributes, in the order of their first
		// neighbour.
		byAttrs := map[string]*Path{}
		var order []string
		for _, n := range slices.SortedFunc(maps.Keys(e.to), netip.Addr.Compare) {
			k := e.to[n].key()
			if byAttrs[k] == nil {
				byAttrs[k] = &Path{Prefix: prefix, NextHop: e.nextHop, Attrs: e.to[n]}
				order = append(order, k)
			}
			byAttrs[k].Peers = append(byAttrs[k].Peers, n)
		}
		for _, k := range order {
			paths = append(paths, *byAttrs[k])
		}
	}
	slices.Sort(notes)
	return paths, slices.Compact(notes)
}

// advertisement is one bgpAdvertisement, read for the peers that run.
type advertisement struct {
	length4, length6 int
	attrs            Attrs
	peers            []netip.Addr
}

func compileAdvertisement(eip string, i int, ad *v1alpha2.BgpAdvertisement, aliases map[string]string, peers []Peer) (advertisement, []string) {
	path := fmt.Sprintf("eip %q: spec.bgpAdvertisements[%d]", eip, i)
	a := advertisement{length4: 32, length6: 128}
	if ad.AggregationLength != nil {
		a.length4 = int(*ad.AggregationLength)
	}
	if ad.AggregationLengthV6 != nil {
		a.length6 = int(*ad.AggregationLengthV6)
	}
	if ad.LocalPref != nil {
		a.attrs.LocalPref = *ad.LocalPref
	}
	var problems []string
	for j, c := range ad.Communities {
		if err := addCommunity(c, aliases, &a.attrs); err != nil {
			problems = append(problems, fmt.Sprintf("%s.communities[%d]: %v; left out", path, j, err))
		}
	}
	a.attrs = a.attrs.merge(Attrs{}) // sorted, without duplicates
	var sel labels.Selector
	if ad.PeerSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(ad.PeerSelector)
		if err != nil {
			return a, append(problems, fmt.Sprintf("%s.peerSelector: %v; the advertisement goes to no peer", path, err))
		}
		sel = s
	}
	everyPeer := len(ad.Peers) == 0 && ad.PeerSelector == nil
	for _, p := range peers {
		if everyPeer || slices.Contains(ad.Peers, p.Name) || (sel != nil && sel.Matches(labels.Set(p.Labels))) {
			a.peers = append(a.peers, p.Address)
		}
	}
	return a, problems
}

// String shows the attributes as an operator writes them.
func (a Attrs) String() string {
	var parts []string
	if a.LocalPref != 0 {
		parts = append(parts, fmt.Sprintf("localPref %d", a.LocalPref))
	}
	for _, c := range a.Communities {
		parts = append(parts, community.Community{Standard: c}.String())
	}
	for _, c := range a.LargeCommunities {
		parts = append(parts, community.Community{Large: true, LargeValue: [3]uint32{c.Global, c.Local1, c.Local2}}.String())
	}
	return strings.Join(parts, " ")
}
