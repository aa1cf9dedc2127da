package metallbmigrate

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
)

// spec names a field of a translated object in errors: its classic key
// (peer-asn) or its resource path (spec.peerASN).
func spec(classic bool, crdField, classicKey string) string {
	if classic {
		return classicKey
	}
	return "spec." + crdField
}

// bgpConf is BgpConf "default": the AS most peers speak as (the first
// peer's on a tie), the common router ID if every peer names the same,
// and the community aliases.
func bgpConf(peers []bgpPeer, comms *communities) (*Object, error) {
	if len(peers) == 0 && len(comms.aliases) == 0 {
		return nil, nil
	}
	conf := &v1alpha2.BgpConf{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha2.GroupVersion.String(), Kind: "BgpConf"},
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName},
		Spec:       v1alpha2.BgpConfSpec{Communities: comms.aliases},
	}
	obj := &Object{Obj: conf}
	counts := map[uint32]int{}
	for _, p := range peers {
		counts[p.Spec.MyASN]++
		if counts[p.Spec.MyASN] > counts[uint32(conf.Spec.As)] {
			conf.Spec.As = v1alpha2.ASNumber(p.Spec.MyASN)
		}
	}
	if len(counts) > 1 {
		obj.Notes = append(obj.Notes, fmt.Sprintf("MetalLB's peers speak as %d different ASes; spec.as is the one most use (%d), the others' BgpPeers set conf.localAs.", len(counts), conf.Spec.As))
	}
	if len(peers) == 0 {
		obj.Notes = append(obj.Notes, "No MetalLB peer: set spec.as to the cluster's AS number before adding BgpPeers.")
	}
	if id := commonRouterID(peers); id != "" {
		conf.Spec.RouterId = id
		obj.Notes = append(obj.Notes, fmt.Sprintf("Every MetalLB peer set router ID %s, so every node uses it, as under MetalLB; the webhook warns about this: leave spec.routerId empty so that each node uses its own address, unless the routers need this one.", id))
	}
	obj.Notes = append(obj.Notes, comms.notes...)
	return obj, nil
}

// commonRouterID is the router ID every peer sets, or "".
func commonRouterID(peers []bgpPeer) string {
	if len(peers) == 0 {
		return ""
	}
	id := peers[0].Spec.RouterID
	for _, p := range peers[1:] {
		if p.Spec.RouterID != id {
			return ""
		}
	}
	return id
}

// bgpPeerObject translates one MetalLB peer. localAs is BgpConf's AS;
// families says which address families the Eips hold (true: IPv4).
func bgpPeerObject(p bgpPeer, localAs v1alpha2.ASNumber, commonID string, bfd map[string]bfdProfile, families map[bool]bool, unknown []string) (*Object, error) {
	s := p.Spec
	if s.MyASN == 0 {
		return nil, fmt.Errorf("%s: %s: required: the AS number the nodes speak as", p.src, spec(p.classic, "myASN", "my-asn"))
	}
	addr, err := netip.ParseAddr(s.PeerAddress)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %q: not an IP address", p.src, spec(p.classic, "peerAddress", "peer-address"), s.PeerAddress)
	}
	peer := &v1alpha2.BgpPeer{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha2.GroupVersion.String(), Kind: "BgpPeer"},
		ObjectMeta: metav1.ObjectMeta{Name: p.meta.Name},
		Spec: v1alpha2.BgpPeerSpec{Conf: &v1alpha2.PeerConf{
			NeighborAddress: addr.String(), PeerAs: v1alpha2.ASNumber(s.PeerASN),
		}},
	}
	obj := &Object{Obj: peer}
	note := func(format string, args ...any) { obj.Notes = append(obj.Notes, fmt.Sprintf(format, args...)) }
	if p.classic {
		note("From %s (classic peers have no name: this one is named after its address).", p.src)
	} else {
		note("From %s.", p.src)
	}
	if v1alpha2.ASNumber(s.MyASN) != localAs {
		peer.Spec.Conf.LocalAs = v1alpha2.ASNumber(s.MyASN)
	}
	switch {
	case s.PeerASN != 0 && s.DynamicASN != "":
		return nil, fmt.Errorf("%s: spec.dynamicASN: set together with spec.peerASN; MetalLB accepts one of them", p.src)
	case s.DynamicASN == "internal":
		peer.Spec.Conf.PeerAs = v1alpha2.ASNumber(s.MyASN)
		note("dynamicASN internal: Herald needs the peer's AS, so conf.peerAs is the nodes' own AS %d (an iBGP session).", s.MyASN)
	case s.DynamicASN == "external":
		note("dynamicASN external: Herald needs the peer's AS number and cannot learn it from the OPEN message: set conf.peerAs (it is empty, so the webhook refuses this BgpPeer until then).")
	case s.DynamicASN != "":
		return nil, fmt.Errorf("%s: spec.dynamicASN: %q: want internal or external", p.src, s.DynamicASN)
	case s.PeerASN == 0:
		return nil, fmt.Errorf("%s: %s: required: the router's AS number", p.src, spec(p.classic, "peerASN", "peer-asn"))
	}
	if s.PeerPort != 0 && s.PeerPort != 179 {
		if s.PeerPort > 65535 {
			return nil, fmt.Errorf("%s: %s: %d: not a TCP port", p.src, spec(p.classic, "peerPort", "peer-port"), s.PeerPort)
		}
		peer.Spec.Transport = &v1alpha2.Transport{RemotePort: s.PeerPort}
	}
	timers := &v1alpha2.TimersConfig{}
	timers.HoldTime = seconds(s.HoldTime, "hold time", note)
	timers.KeepaliveInterval = seconds(s.KeepaliveTime, "keepalive time", note)
	timers.ConnectRetry = seconds(s.ConnectTime, "connect time", note)
	if timers.HoldTime != nil || timers.KeepaliveInterval != nil || timers.ConnectRetry != nil {
		peer.Spec.Timers = &v1alpha2.Timers{Config: timers}
	}
	if s.RouterID != "" && s.RouterID != commonID {
		note("router ID %s not carried over: Herald's router ID is one for all sessions (BgpConf spec.routerId) and not every MetalLB peer sets this one; each node now uses its own address.", s.RouterID)
	}
	if s.SourceAddress != "" {
		src, err := netip.ParseAddr(s.SourceAddress)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %q: not an IP address", p.src, spec(p.classic, "sourceAddress", "source-address"), s.SourceAddress)
		}
		peer.Spec.SourceAddress = &v1alpha2.PeerSourceAddress{CIDR: netip.PrefixFrom(src, src.BitLen()).String()}
		note("source address %s became sourceAddress.cidr %s: Herald's rule is applied by every node, and only the node that owns %s has an address inside it. If several nodes peer with this router, write the CIDR of their subnet (each node then uses its own address in it) or sourceAddress.interface instead.",
			src, peer.Spec.SourceAddress.CIDR, src)
	}
	switch len(s.NodeSelectors) {
	case 0:
	case 1:
		peer.Spec.NodeSelector = &s.NodeSelectors[0]
	default:
		peer.Spec.NodeSelectors = s.NodeSelectors
	}
	if s.Password != "" {
		peer.Spec.Conf.AuthPassword = s.Password
		note("The TCP MD5 password is carried over in plain text (conf.authPassword), which the webhook warns about: put it in a Secret in Herald's namespace and use conf.authPasswordSecretRef instead.")
	}
	if ref := s.PasswordSecret; ref != nil {
		if s.Password != "" {
			return nil, fmt.Errorf("%s: spec.passwordSecret: set together with spec.password; MetalLB accepts one of them", p.src)
		}
		peer.Spec.Conf.AuthPasswordSecretRef = &v1alpha2.SecretKeyRef{Name: ref.Name, Key: "password"}
		ns := ref.Namespace
		if ns == "" {
			ns = p.meta.Namespace
		}
		note("The password Secret %s/%s (MetalLB's basic-auth Secret, key password) must exist in Herald's namespace: Herald's speakers read Secrets there only. Copy it before applying this BgpPeer.", ns, ref.Name)
	}
	if s.BFDProfile != "" {
		b, ok := bfd[s.BFDProfile]
		if !ok {
			return nil, fmt.Errorf("%s: %s: %q: no such BFD profile", p.src, spec(p.classic, "bfdProfile", "bfd-profile"), s.BFDProfile)
		}
		peer.Spec.Bfd = bfdSettings(b, note)
	}
	if s.EBGPMultiHop {
		peer.Spec.EbgpMultihop = &v1alpha2.EbgpMultihop{Enabled: true, MultihopTtl: 255}
		note("ebgpMultiHop: Herald needs a TTL; 255 is what MetalLB's FRR uses for multihop without a count. Lower it to the real number of hops.")
	}
	if s.EnableGracefulRestart {
		peer.Spec.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true}
	}
	if s.VRFName != "" {
		note("vrf %s not carried over: Herald's speakers run their sessions in the node's default VRF only.", s.VRFName)
	}
	if other := otherFamily(addr); families[other] {
		if s.DisableMP {
			note("disableMP: this session carries %s routes only, so the %s pools' addresses are not announced to this router; MetalLB expected another BGPPeer for them, as Herald does.", familyName(addr.Is4()), familyName(!addr.Is4()))
		} else {
			// MetalLB's default: both families over one session.
			for _, afi := range []string{bgpconfig.AfiIP, bgpconfig.AfiIP6} {
				a := v1alpha2.AfiSafi{Config: &v1alpha2.AfiSafiConfig{Family: &v1alpha2.Family{Afi: afi, Safi: bgpconfig.SafiUnicast}, Enabled: true}}
				if s.EnableGracefulRestart {
					a.MpGracefulRestart = &v1alpha2.MpGracefulRestart{Config: &v1alpha2.MpGracefulRestartConfig{Enabled: true}}
				}
				peer.Spec.AfiSafis = append(peer.Spec.AfiSafis, a)
			}
			note("There are %s pools too: afiSafis lists both families, since MetalLB announced both over this one session (Herald's default is the neighbour's family only).", familyName(!addr.Is4()))
		}
	}
	if s.Interface != "" {
		note("interface %s (BGP unnumbered) not carried over: Herald needs conf.neighborAddress.", s.Interface)
	}
	if len(unknown) > 0 {
		note("Unknown MetalLB fields, not carried over: %s.", strings.Join(unknown, ", "))
	}
	return obj, nil
}

// seconds converts a MetalLB duration to BGP's whole seconds; nil stays nil.
func seconds(d *duration, what string, note func(string, ...any)) *intstr.IntOrString {
	if d == nil {
		return nil
	}
	s := int(d.Duration / time.Second)
	if d.Duration%time.Second != 0 {
		note("%s %v is not whole seconds, which BGP needs: rounded down to %ds.", what, d.Duration, s)
	}
	return ptr.To(intstr.FromInt(s))
}

// bfdSettings carries a BFD profile's intervals and multiplier; echo mode,
// passive mode and the minimum TTL have no Herald field.
func bfdSettings(b bfdProfile, note func(string, ...any)) *v1alpha2.PeerBfd {
	ms := func(v *uint32) *metav1.Duration {
		if v == nil {
			return nil
		}
		return &metav1.Duration{Duration: time.Duration(*v) * time.Millisecond}
	}
	out := &v1alpha2.PeerBfd{Enabled: true, TransmitInterval: ms(b.Spec.TransmitInterval), ReceiveInterval: ms(b.Spec.ReceiveInterval)}
	if m := b.Spec.DetectMultiplier; m != nil {
		out.DetectMultiplier = ptr.To(int32(*m))
	}
	var dropped []string
	if b.Spec.EchoMode || b.Spec.EchoInterval != nil {
		dropped = append(dropped, "echo mode and echo interval (Herald's BFD sends no echo packets)")
	}
	if b.Spec.PassiveMode {
		dropped = append(dropped, "passive mode (Herald's BFD always starts the session)")
	}
	if b.Spec.MinimumTTL != nil {
		dropped = append(dropped, "minimum TTL (Herald's BFD is single-hop: it sends and expects TTL 255)")
	}
	msg := fmt.Sprintf("BFD from profile %s.", b.meta.Name)
	if len(dropped) > 0 {
		msg = fmt.Sprintf("BFD from profile %s; not carried over: %s.", b.meta.Name, strings.Join(dropped, "; "))
	}
	note("%s", msg)
	return out
}

// otherFamily is the key of families for the family a is not of.
func otherFamily(a netip.Addr) bool { return !a.Is4() }

func familyName(v4 bool) string {
	if v4 {
		return "IPv4"
	}
	return "IPv6"
}
