package metallbmigrate

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/iprange"
)

// selects reports whether an advertisement that lists pools by name and
// by label selector applies to pool; both empty means every pool.
func selects(names []string, selectors []metav1.LabelSelector, pool ipAddressPool) (bool, error) {
	if len(names) == 0 && len(selectors) == 0 {
		return true, nil
	}
	if slices.Contains(names, pool.meta.Name) {
		return true, nil
	}
	for i := range selectors {
		sel, err := metav1.LabelSelectorAsSelector(&selectors[i])
		if err != nil {
			return false, fmt.Errorf("spec.ipAddressPoolSelectors[%d]: %w", i, err)
		}
		if sel.Matches(labels.Set(pool.meta.Labels)) {
			return true, nil
		}
	}
	return false, nil
}

// poolInput is one MetalLB pool with what it needs from the rest of the
// configuration.
type poolInput struct {
	pool ipAddressPool
	bgp  []bgpAdvertisement
	l2   []l2Advertisement
	// unknown are unknown fields of the pool and its advertisements.
	unknown []string
}

// eipBuilder carries what the pools of one configuration share.
type eipBuilder struct {
	opts  Options
	comms *communities
	peers map[string]bool
	// used holds every Eip name taken, the pools' own names from the start.
	used map[string]bool
	// defaults is the default Eip per family (true: IPv4).
	defaults map[bool]string
}

// eips translates one pool: one Eip per address range, the first under the
// pool's own name.
func (b *eipBuilder) eips(in poolInput) ([]*Object, error) {
	p := in.pool
	addrField := spec(p.classic, "addresses", "addresses")
	if len(p.Spec.Addresses) == 0 {
		return nil, fmt.Errorf("%s: %s: required: at least one CIDR or first-last range", p.src, addrField)
	}
	ranges := make([]iprange.Range, len(p.Spec.Addresses))
	for i, a := range p.Spec.Addresses {
		r, err := iprange.Parse(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %s[%d]: %q: %w", p.src, addrField, i, a, err)
		}
		ranges[i] = r
	}
	names := make([]string, len(ranges))
	names[0] = p.meta.Name
	for i := 1; i < len(ranges); i++ {
		for n := i + 1; ; n++ {
			if name := fmt.Sprintf("%s-%d", p.meta.Name, n); !b.used[name] {
				names[i], b.used[name] = name, true
				break
			}
		}
	}
	shared, err := b.sharedSpec(in)
	if err != nil {
		return nil, err
	}
	var out []*Object
	for i := range ranges {
		obj, err := b.eip(in, shared, names, ranges, i)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// sharedEip is what every Eip of one pool has in common.
type sharedEip struct {
	spec  v1alpha2.EipSpec
	notes []string
	// auto is true when the pool may be the default pool of its family.
	auto bool
}

func (b *eipBuilder) sharedSpec(in poolInput) (sharedEip, error) {
	p := in.pool
	var s sharedEip
	note := func(format string, args ...any) { s.notes = append(s.notes, fmt.Sprintf(format, args...)) }
	s.spec.AvoidBuggyIPs = p.Spec.AvoidBuggyIPs
	autoAssign := p.Spec.AutoAssign == nil || *p.Spec.AutoAssign
	bound := false
	if a := p.Spec.ServiceAllocation; a != nil {
		s.spec.Priority = a.Priority
		if len(a.Namespaces) > 0 || len(a.NamespaceSelectors) > 0 {
			if !autoAssign {
				note("serviceAllocation's namespaces not carried over: Herald assigns addresses of an Eip bound to a namespace to that namespace's Services automatically, which autoAssign false forbids.")
			} else {
				bound = true
				s.spec.Namespaces = a.Namespaces
				switch sels := a.NamespaceSelectors; {
				case len(sels) == 1 && len(sels[0].MatchExpressions) == 0:
					s.spec.NamespaceSelector = sels[0].MatchLabels
				case len(sels) > 0:
					note("serviceAllocation.namespaceSelectors not carried over: Herald's namespaceSelector is one set of labels, and these are %s; list the namespaces in spec.namespaces instead.", formatSelectors(sels))
				}
			}
		}
		if len(a.ServiceSelectors) > 0 {
			note("serviceAllocation.serviceSelectors (%s) not carried over: Herald picks pools by namespace, not by Service labels; such Services can name this Eip instead.", formatSelectors(a.ServiceSelectors))
		}
	}
	s.auto = autoAssign && !bound
	if !autoAssign {
		note("autoAssign false: Herald has no per-pool switch for this; the Eip is simply not the default pool and bound to no namespace, so, as under MetalLB, only Services that name it (metallb.io/address-pool or eip.openelb.kubesphere.io/v1alpha2) or ask for one of its addresses get one.")
	}

	switch {
	case len(in.bgp) > 0:
		s.spec.Protocol = v1alpha2.ProtocolBGP
		if len(in.l2) > 0 {
			note("MetalLB announced this pool over layer2 too (%s); an Eip has one protocol: bgp was kept.", sourcesOf(in.l2))
		}
	case len(in.l2) > 0:
		s.spec.Protocol = v1alpha2.ProtocolLayer2
		s.spec.Interface = b.layer2Interface(in, note)
	default:
		s.spec.Protocol = v1alpha2.ProtocolBGP
		note("No BGPAdvertisement or L2Advertisement selects this pool, so MetalLB allocated its addresses without announcing them. Herald announces every Eip: it became bgp, announced to every BgpPeer; change it if that is not wanted.")
	}
	s.spec.NodeSelector = nodeSelector(in, note)
	if len(in.unknown) > 0 {
		note("Unknown MetalLB fields, not carried over: %s.", strings.Join(in.unknown, ", "))
	}
	return s, nil
}

// layer2Interface is the interface of a layer2 pool: the one its
// L2Advertisements name, else the --layer2-interface option.
func (b *eipBuilder) layer2Interface(in poolInput, note func(string, ...any)) string {
	var ifaces []string
	for _, a := range in.l2 {
		for _, i := range a.Spec.Interfaces {
			if !slices.Contains(ifaces, i) {
				ifaces = append(ifaces, i)
			}
		}
	}
	switch {
	case len(ifaces) == 1:
		return ifaces[0]
	case len(ifaces) > 1 && b.opts.Layer2Interface != "":
		note("MetalLB answered ARP/NDP on interfaces %s; a Herald Eip names one interface (or can_reach:<ip>): %s from --layer2-interface was used.", strings.Join(ifaces, ", "), b.opts.Layer2Interface)
	case len(ifaces) > 1:
		note("MetalLB answered ARP/NDP on interfaces %s; a Herald Eip names one interface or can_reach:<ip>: set spec.interface (the webhook refuses this Eip until then), or split the pool.", strings.Join(ifaces, ", "))
		return ""
	case b.opts.Layer2Interface != "":
		note("MetalLB answered ARP/NDP on every interface; Herald answers on one: %s, from --layer2-interface.", b.opts.Layer2Interface)
	default:
		note("MetalLB answered ARP/NDP on every interface; a Herald layer2 Eip answers on one, named in spec.interface (eth0, or can_reach:<router ip> for the interface that reaches it): set it (the webhook refuses this Eip until then), or rerun with --layer2-interface.")
		return ""
	}
	return b.opts.Layer2Interface
}

// nodeSelector is the Eip's node selector: the advertisements' one when
// they all carry the same single selector.
func nodeSelector(in poolInput, note func(string, ...any)) *metav1.LabelSelector {
	var all [][]metav1.LabelSelector
	for _, a := range in.bgp {
		all = append(all, a.Spec.NodeSelectors)
	}
	for _, a := range in.l2 {
		all = append(all, a.Spec.NodeSelectors)
	}
	if len(all) == 0 || !slices.ContainsFunc(all, func(s []metav1.LabelSelector) bool { return len(s) > 0 }) {
		return nil
	}
	if len(all[0]) == 1 && !slices.ContainsFunc(all, func(s []metav1.LabelSelector) bool { return !reflect.DeepEqual(s, all[0]) }) {
		return &all[0][0]
	}
	var parts []string
	for _, s := range all {
		parts = append(parts, formatSelectors(s))
	}
	note("Node selectors not carried over: MetalLB's advertisements of this pool select nodes as %s, and a Herald Eip has one selector for all its announcements: set spec.nodeSelector to the nodes that may announce.", strings.Join(parts, "; "))
	return nil
}

// eip builds the i-th Eip of a pool.
func (b *eipBuilder) eip(in poolInput, shared sharedEip, names []string, ranges []iprange.Range, i int) (*Object, error) {
	p, r := in.pool, ranges[i]
	e := &v1alpha2.Eip{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha2.GroupVersion.String(), Kind: "Eip"},
		ObjectMeta: metav1.ObjectMeta{Name: names[i]},
		Spec:       shared.spec,
	}
	e.Spec.Address = strings.Join(strings.Fields(p.Spec.Addresses[i]), "")
	obj := &Object{Obj: e}
	note := func(format string, args ...any) { obj.Notes = append(obj.Notes, fmt.Sprintf(format, args...)) }
	note("From %s.", p.src)
	if len(ranges) > 1 {
		if i == 0 {
			note("The pool has %d address ranges and an Eip holds one: this Eip keeps the pool's name and holds the first, Eips %s the others. Services that name the pool (metallb.io/address-pool: %s) get addresses from this first range only; to use another range they name its Eip, or one Eip per family separated by a comma.",
				len(ranges), strings.Join(names[1:], ", "), p.meta.Name)
		} else {
			note("Range %d of %d of the pool, whose name Eip %s keeps: Services that name the pool get addresses from Eip %s only; to use this range they name this Eip (metallb.io/address-pool: %s).",
				i+1, len(ranges), names[0], names[0], names[i])
		}
	}
	if shared.auto {
		if def, ok := b.defaults[r.Is4()]; ok {
			note("MetalLB assigned addresses of every autoAssign pool automatically; Herald does so from one default Eip per family, and the default %s pool is %s. This Eip serves Services that name it or ask for one of its addresses; bind it to namespaces (spec.namespaces) to have it assigned automatically there.",
				familyName(r.Is4()), def)
		} else {
			b.defaults[r.Is4()] = e.Name
			e.Annotations = map[string]string{v1alpha2.AnnotationDefaultEip: "true"}
		}
	}
	if e.Spec.AvoidBuggyIPs && !r.Is4() {
		note("avoidBuggyIPs is ignored by IPv6 pools, as in MetalLB.")
	}
	obj.Notes = append(obj.Notes, shared.notes...)
	advs, err := b.advertisements(in, r, note)
	if err != nil {
		return nil, err
	}
	e.Spec.BgpAdvertisements = advs
	return obj, nil
}

// advertisements translates the BGPAdvertisements of a pool for one of
// its ranges; a single advertisement with nothing set is MetalLB's
// default and Herald's (no list).
func (b *eipBuilder) advertisements(in poolInput, r iprange.Range, note func(string, ...any)) ([]v1alpha2.BgpAdvertisement, error) {
	var out []v1alpha2.BgpAdvertisement
	for _, a := range in.bgp {
		var h v1alpha2.BgpAdvertisement
		length, field, bits := a.Spec.AggregationLength, spec(a.classic, "aggregationLength", "aggregation-length"), 32
		if !r.Is4() {
			length, field, bits = a.Spec.AggregationLengthV6, spec(a.classic, "aggregationLengthV6", "aggregation-length-v6"), 128
		}
		if length != nil {
			if *length < 0 || int(*length) > bits {
				return nil, fmt.Errorf("%s: %s: %d: want 0 to %d", a.src, field, *length, bits)
			}
			if r.Is4() {
				h.AggregationLength = length
			} else {
				h.AggregationLengthV6 = length
			}
			if foreign(r, int(*length)) {
				h.AllowForeignAggregate = true
				note("%s: aggregation length %d covers addresses outside %s, as MetalLB announced it: allowForeignAggregate is set; make sure the aggregate is yours.", a.src, *length, r)
			}
		}
		if a.Spec.LocalPref != 0 {
			h.LocalPref = ptr.To(a.Spec.LocalPref)
		}
		for j, c := range a.Spec.Communities {
			v, err := b.comms.resolve(c)
			if err != nil {
				return nil, fmt.Errorf("%s: %s[%d]: %w", a.src, spec(a.classic, "communities", "communities"), j, err)
			}
			h.Communities = append(h.Communities, v)
		}
		for _, peer := range a.Spec.Peers {
			if !b.peers[peer] {
				note("%s names peer %s, which is not in the input: BgpPeer %s must exist for this advertisement to reach it.", a.src, peer, peer)
			}
		}
		h.Peers = a.Spec.Peers
		out = append(out, h)
	}
	if len(out) == 1 && reflect.DeepEqual(out[0], v1alpha2.BgpAdvertisement{}) {
		return nil, nil
	}
	if len(out) > 16 {
		note("%d advertisements: Herald takes at most 16 per Eip; merge some.", len(out))
	}
	return out, nil
}

// foreign reports whether announcing r's addresses in prefixes of this
// length covers addresses outside r.
func foreign(r iprange.Range, length int) bool {
	first := netip.PrefixFrom(r.First(), length).Masked()
	last := netip.PrefixFrom(r.Last(), length).Masked()
	return first.Addr() != r.First() || lastAddr(last) != r.Last()
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func formatSelectors(sels []metav1.LabelSelector) string {
	var parts []string
	for i := range sels {
		parts = append(parts, "{"+metav1.FormatLabelSelector(&sels[i])+"}")
	}
	return strings.Join(parts, " or ")
}

func sourcesOf(advs []l2Advertisement) string {
	var parts []string
	for _, a := range advs {
		parts = append(parts, string(a.src))
	}
	return strings.Join(parts, ", ")
}
