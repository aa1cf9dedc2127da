package metallbmigrate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The classic configuration: the YAML under data.config of the ConfigMap
// metallb-system/config, as MetalLB read it up to v0.12 (its
// example-config documents every key).

type classicConfig struct {
	Peers          []classicPeer     `json:"peers,omitempty"`
	BGPCommunities map[string]string `json:"bgp-communities,omitempty"`
	Pools          []classicPool     `json:"address-pools,omitempty"`
	BFDProfiles    []classicBFD      `json:"bfd-profiles,omitempty"`
}

type classicPeer struct {
	MyASN         uint32            `json:"my-asn"`
	ASN           uint32            `json:"peer-asn"`
	Addr          string            `json:"peer-address"`
	SrcAddr       string            `json:"source-address,omitempty"`
	Port          uint32            `json:"peer-port,omitempty"`
	HoldTime      *duration         `json:"hold-time,omitempty"`
	KeepaliveTime *duration         `json:"keepalive-time,omitempty"`
	RouterID      string            `json:"router-id,omitempty"`
	NodeSelectors []classicSelector `json:"node-selectors,omitempty"`
	Password      string            `json:"password,omitempty"`
	BFDProfile    string            `json:"bfd-profile,omitempty"`
	EBGPMultiHop  bool              `json:"ebgp-multihop,omitempty"`
}

type classicSelector struct {
	MatchLabels      map[string]string `json:"match-labels,omitempty"`
	MatchExpressions []classicExpr     `json:"match-expressions,omitempty"`
}

type classicExpr struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

type classicPool struct {
	Name              string       `json:"name"`
	Protocol          string       `json:"protocol"`
	Addresses         []string     `json:"addresses"`
	AvoidBuggyIPs     bool         `json:"avoid-buggy-ips,omitempty"`
	AutoAssign        *bool        `json:"auto-assign,omitempty"`
	BGPAdvertisements []classicAdv `json:"bgp-advertisements,omitempty"`
}

type classicAdv struct {
	AggregationLength   *int32   `json:"aggregation-length,omitempty"`
	AggregationLengthV6 *int32   `json:"aggregation-length-v6,omitempty"`
	LocalPref           *uint32  `json:"localpref,omitempty"`
	Communities         []string `json:"communities,omitempty"`
}

type classicBFD struct {
	Name             string  `json:"name"`
	ReceiveInterval  *uint32 `json:"receive-interval,omitempty"`
	TransmitInterval *uint32 `json:"transmit-interval,omitempty"`
	DetectMultiplier *uint32 `json:"detect-multiplier,omitempty"`
	EchoInterval     *uint32 `json:"echo-interval,omitempty"`
	EchoMode         bool    `json:"echo-mode,omitempty"`
	PassiveMode      bool    `json:"passive-mode,omitempty"`
	MinimumTTL       *uint32 `json:"minimum-ttl,omitempty"`
}

// readClassic adds the classic configuration of a ConfigMap to m, in the
// resources' shape: each pool becomes an IPAddressPool with one
// BGPAdvertisement per bgp-advertisements entry (or one plain
// L2Advertisement), each peer a BGPPeer named after its address.
func (m *model) readClassic(src source, doc document) error {
	text, ok := doc.Data["config"].(string)
	if !ok {
		return fmt.Errorf("%s: data.config: required: the classic MetalLB ConfigMap holds its configuration as YAML under the key config", src)
	}
	data, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return fmt.Errorf("%s: data.config: %w", src, err)
	}
	var cfg classicConfig
	if err := decodeStrict(data, &cfg); err != nil {
		return fmt.Errorf("%s: data.config: %w", src, err)
	}
	m.classic = true
	firstPeer, firstPool := len(m.peers), len(m.pools)
	defer func() {
		// Unknown fields go above the object they were found in.
		var global []string
		for _, path := range unknownFields(data, reflect.TypeFor[classicConfig](), "config") {
			var i int
			var rest string
			switch {
			case scan(path, "config.peers[%d]%s", &i, &rest) && firstPeer+i < len(m.peers):
				m.addUnknown(m.peers[firstPeer+i].src, []string{"peers[" + fmt.Sprint(i) + "]" + rest})
			case scan(path, "config.address-pools[%d]%s", &i, &rest) && firstPool+i < len(m.pools):
				m.addUnknown(m.pools[firstPool+i].src, []string{"address-pools[" + fmt.Sprint(i) + "]" + rest})
			default:
				global = append(global, path)
			}
		}
		if len(global) > 0 {
			m.notes = append(m.notes, fmt.Sprintf("%s: unknown fields, not carried over: %s.", src, strings.Join(global, ", ")))
		}
	}()
	for k := range doc.Data {
		if k != "config" {
			m.notes = append(m.notes, fmt.Sprintf("%s: data.%s is not MetalLB's configuration: skipped.", src, k))
		}
	}
	ns := doc.Metadata.Namespace

	names := map[string]bool{}
	for i, p := range cfg.Peers {
		name := peerName(p.Addr, names)
		psrc := source(fmt.Sprintf("%s: peers[%d]", src, i))
		selectors, err := classicSelectors(p.NodeSelectors)
		if err != nil {
			return fmt.Errorf("%s: node-selectors%w", psrc, err)
		}
		m.peers = append(m.peers, bgpPeer{meta: objectMeta{Name: name, Namespace: ns}, src: psrc, classic: true, Spec: bgpPeerSpec{
			MyASN: p.MyASN, PeerASN: p.ASN, PeerAddress: p.Addr, SourceAddress: p.SrcAddr, PeerPort: p.Port,
			HoldTime: p.HoldTime, KeepaliveTime: p.KeepaliveTime, RouterID: p.RouterID, NodeSelectors: selectors,
			Password: p.Password, BFDProfile: p.BFDProfile, EBGPMultiHop: p.EBGPMultiHop,
		}})
	}
	if len(cfg.BGPCommunities) > 0 {
		c := community{meta: objectMeta{Name: "bgp-communities", Namespace: ns}, src: source(fmt.Sprintf("%s: bgp-communities", src)), classic: true}
		for _, name := range sortedKeys(cfg.BGPCommunities) {
			c.Spec.Communities = append(c.Spec.Communities, communityAlias{Name: name, Value: cfg.BGPCommunities[name]})
		}
		m.communities = append(m.communities, c)
	}
	for i, b := range cfg.BFDProfiles {
		m.bfd = append(m.bfd, bfdProfile{meta: objectMeta{Name: b.Name, Namespace: ns}, src: source(fmt.Sprintf("%s: bfd-profiles[%d]", src, i)), classic: true, Spec: bfdProfileSpec{
			ReceiveInterval: b.ReceiveInterval, TransmitInterval: b.TransmitInterval, DetectMultiplier: b.DetectMultiplier,
			EchoInterval: b.EchoInterval, EchoMode: b.EchoMode, PassiveMode: b.PassiveMode, MinimumTTL: b.MinimumTTL,
		}})
	}
	for i, p := range cfg.Pools {
		psrc := source(fmt.Sprintf("%s: address-pools[%d] %q", src, i, p.Name))
		if p.Name == "" {
			return fmt.Errorf("%s: address-pools[%d].name: required", src, i)
		}
		m.pools = append(m.pools, ipAddressPool{meta: objectMeta{Name: p.Name, Namespace: ns}, src: psrc, classic: true, Spec: ipAddressPoolSpec{
			Addresses: p.Addresses, AutoAssign: p.AutoAssign, AvoidBuggyIPs: p.AvoidBuggyIPs,
		}})
		switch p.Protocol {
		case "bgp":
			advs := p.BGPAdvertisements
			if len(advs) == 0 {
				advs = []classicAdv{{}} // MetalLB's default: every address as a /32 or /128 to every peer
			}
			for j, a := range advs {
				spec := bgpAdvertisementSpec{AggregationLength: a.AggregationLength, AggregationLengthV6: a.AggregationLengthV6,
					Communities: a.Communities, IPAddressPools: []string{p.Name}}
				if a.LocalPref != nil {
					spec.LocalPref = *a.LocalPref
				}
				m.bgpAdvs = append(m.bgpAdvs, bgpAdvertisement{src: source(fmt.Sprintf("%s: bgp-advertisements[%d]", psrc, j)), classic: true, Spec: spec})
			}
		case "layer2":
			if len(p.BGPAdvertisements) > 0 {
				return fmt.Errorf("%s: bgp-advertisements: only bgp pools may have them, this one is layer2", psrc)
			}
			m.l2Advs = append(m.l2Advs, l2Advertisement{src: psrc, classic: true, Spec: l2AdvertisementSpec{IPAddressPools: []string{p.Name}}})
		case "":
			return fmt.Errorf("%s: protocol: required: bgp or layer2", psrc)
		default:
			return fmt.Errorf("%s: protocol: %q: want bgp or layer2", psrc, p.Protocol)
		}
	}
	return nil
}

// peerName names the BgpPeer of a classic peer, which has no name of its
// own, after its address: "peer-10-0-0-1", "peer-fd00-1--1"; a second peer
// at the same address (other nodes, other port) gets "-2" and so on.
func peerName(addr string, used map[string]bool) string {
	base := "peer-" + strings.Trim(strings.NewReplacer(".", "-", ":", "-", "%", "-").Replace(strings.ToLower(addr)), "-")
	name := base
	for n := 2; used[name]; n++ {
		name = fmt.Sprintf("%s-%d", base, n)
	}
	used[name] = true
	return name
}

func classicSelectors(in []classicSelector) ([]metav1.LabelSelector, error) {
	var out []metav1.LabelSelector
	for i, s := range in {
		sel := metav1.LabelSelector{MatchLabels: s.MatchLabels}
		for _, e := range s.MatchExpressions {
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
				Key: e.Key, Operator: metav1.LabelSelectorOperator(e.Operator), Values: e.Values})
		}
		if _, err := metav1.LabelSelectorAsSelector(&sel); err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, sel)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// scan reports whether s matches format entirely (fmt.Sscanf, whose %s
// takes the rest of a string without blanks).
func scan(s, format string, args ...any) bool {
	n, err := fmt.Sscanf(s, format, args...)
	return err == nil && n == len(args)
}
