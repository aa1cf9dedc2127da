package eippool

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func eip(name string, spec v1alpha2.EipSpec, annotations ...string) *v1alpha2.Eip {
	e := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	for i := 0; i+1 < len(annotations); i += 2 {
		if e.Annotations == nil {
			e.Annotations = map[string]string{}
		}
		e.Annotations[annotations[i]] = annotations[i+1]
	}
	return e
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		eip  *v1alpha2.Eip
		want []string // substrings, one per expected error, in order
	}{
		{"bgp v4 single", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1"}), nil},
		{"bgp v6 cidr", eip("a", v1alpha2.EipSpec{Address: "2001:db8::/120"}), nil},
		{"layer2 with interface", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1-192.0.2.9", Protocol: "layer2", Interface: "eth0"}), nil},
		{"vip can_reach v6", eip("a", v1alpha2.EipSpec{Address: "2001:db8::1", Protocol: "vip", Interface: "can_reach:2001:db8::fe"}), nil},
		{"namespaces and selector", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", Namespaces: []string{"web", "api"}, NamespaceSelector: map[string]string{"team": "a"}}), nil},
		{"bad address", eip("a", v1alpha2.EipSpec{Address: "192.0.2.300"}), []string{`spec.address: Invalid value: "192.0.2.300"`}},
		{"reversed range", eip("a", v1alpha2.EipSpec{Address: "192.0.2.9-192.0.2.1"}), []string{"first address is after the last one"}},
		{"mixed range", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1-2001:db8::1"}), []string{"range mixes IPv4 and IPv6"}},
		{"bad protocol", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", Protocol: "ospf"}), []string{`spec.protocol: Unsupported value: "ospf": supported values: "bgp", "layer2", "vip"`}},
		{"layer2 without interface", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", Protocol: "layer2"}), []string{"spec.interface: Required value: a layer2 Eip must name"}},
		{"vip without interface", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", Protocol: "vip"}), []string{"spec.interface: Required value: a vip Eip must name"}},
		{"bad can_reach", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", Protocol: "layer2", Interface: "can_reach:gateway"}), []string{`spec.interface: Invalid value: "can_reach:gateway"`}},
		{"interface too long", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", Protocol: "layer2", Interface: "averyveryverylongname"}), []string{"not a Linux interface name"}},
		{"bad namespace", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", Namespaces: []string{"Web_1"}}), []string{"spec.namespaces[0]"}},
		{"bad selector", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", NamespaceSelector: map[string]string{"bad key!": "x"}}), []string{"spec.namespaceSelector"}},
		{"bad default annotation", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1"}, v1alpha2.AnnotationDefaultEip, "yes"), []string{`must be "true" or "false"`}},
		{"two errors", eip("a", v1alpha2.EipSpec{Address: "x", Protocol: "layer2"}), []string{"spec.address", "spec.interface"}},
		{"vip with vrrp settings", vipEip(&v1alpha2.EipVRRP{AdvertInterval: dur(100 * time.Millisecond), PreemptDelay: dur(time.Minute), Unicast: ptr.To(true)}), nil},
		{"vrrp on a layer2 eip", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", Protocol: "layer2", Interface: "eth0", VRRP: &v1alpha2.EipVRRP{Unicast: ptr.To(true)}}),
			[]string{"spec.vrrp: Forbidden: VRRP settings apply to vip Eips only; this Eip's protocol is layer2"}},
		{"advert too slow", vipEip(&v1alpha2.EipVRRP{AdvertInterval: dur(time.Minute)}), []string{`spec.vrrp.advertInterval: Invalid value: "1m0s": want whole centiseconds from 10ms to 40.95s`}},
		{"advert zero", vipEip(&v1alpha2.EipVRRP{AdvertInterval: dur(0)}), []string{"spec.vrrp.advertInterval"}},
		{"advert not centiseconds", vipEip(&v1alpha2.EipVRRP{AdvertInterval: dur(1005 * time.Millisecond)}), []string{"spec.vrrp.advertInterval"}},
		{"preempt delay too long", vipEip(&v1alpha2.EipVRRP{PreemptDelay: dur(time.Hour)}), []string{`spec.vrrp.preemptDelay: Invalid value: "1h0m0s"`}},
		{"negative preempt delay", vipEip(&v1alpha2.EipVRRP{PreemptDelay: dur(-time.Second)}), []string{"spec.vrrp.preemptDelay"}},
		{"node selector", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", NodeSelector: &metav1.LabelSelector{
			MatchLabels:      map[string]string{"rack": "r1"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
		}}), nil},
		{"node selector bad label", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", NodeSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"bad key!": "x"},
		}}), []string{"spec.nodeSelector.matchLabels"}},
		{"node selector In without values", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", NodeSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn}},
		}}), []string{"spec.nodeSelector.matchExpressions[0].values"}},
		{"node selector bad operator", eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", NodeSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Gt", Values: []string{"1"}}},
		}}), []string{"spec.nodeSelector.matchExpressions[0].operator"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Validate(tt.eip)
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors", errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func TestFromEip(t *testing.T) {
	p, err := FromEip(eip("pool", v1alpha2.EipSpec{
		Address: "192.0.2.0/30", Namespaces: []string{"b", "a", "b"},
		NamespaceSelector: map[string]string{"team": "x"},
	}, v1alpha2.AnnotationDefaultEip, "true"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Protocol != v1alpha2.ProtocolBGP || !p.Default || p.Range.Size() != 4 || strings.Join(p.Namespaces, ",") != "a,b" {
		t.Errorf("FromEip() = %+v", p)
	}
	for _, tt := range []struct {
		ns     string
		labels map[string]string
		want   bool
	}{
		{"a", nil, true},
		{"c", nil, false},
		{"c", map[string]string{"team": "x"}, true},
		{"c", map[string]string{"team": "y"}, false},
	} {
		if got := p.BindsNamespace(tt.ns, tt.labels); got != tt.want {
			t.Errorf("BindsNamespace(%s, %v) = %v, want %v", tt.ns, tt.labels, got, tt.want)
		}
	}
	if _, err := FromEip(eip("bad", v1alpha2.EipSpec{Address: "nope"})); err == nil || !strings.Contains(err.Error(), `eip "bad"`) {
		t.Errorf("FromEip(bad) error = %v, want it to name the eip", err)
	}
}

// TestSelectsNode: spec.nodeSelector picks the nodes that may announce a
// pool's addresses, nil picks every node, and the exclude label (any
// value, even empty) wins over everything.
func TestSelectsNode(t *testing.T) {
	exclude := "node.kubernetes.io/exclude-from-external-load-balancers"
	everyNode, err := FromEip(eip("any", v1alpha2.EipSpec{Address: "192.0.2.1"}))
	if err != nil {
		t.Fatal(err)
	}
	empty, err := FromEip(eip("empty", v1alpha2.EipSpec{Address: "192.0.2.2", NodeSelector: &metav1.LabelSelector{}}))
	if err != nil {
		t.Fatal(err)
	}
	rack, err := FromEip(eip("rack", v1alpha2.EipSpec{Address: "2001:db8::1", NodeSelector: &metav1.LabelSelector{
		MatchLabels:      map[string]string{"rack": "r1"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "spare", Operator: metav1.LabelSelectorOpDoesNotExist}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		pool   Pool
		labels map[string]string
		want   bool
	}{
		{"no selector, no labels", everyNode, nil, true},
		{"no selector, other labels", everyNode, map[string]string{"rack": "r2"}, true},
		{"empty selector", empty, map[string]string{"rack": "r2"}, true},
		{"selector matches", rack, map[string]string{"rack": "r1", "zone": "a"}, true},
		{"selector value differs", rack, map[string]string{"rack": "r2"}, false},
		{"selector expression fails", rack, map[string]string{"rack": "r1", "spare": ""}, false},
		{"selector, no labels (no Node object)", rack, nil, false},
		{"exclude label, no selector", everyNode, map[string]string{exclude: ""}, false},
		{"exclude label with a value", empty, map[string]string{exclude: "false"}, false},
		{"exclude label, selector matches", rack, map[string]string{"rack": "r1", exclude: "true"}, false},
	} {
		if got := tt.pool.SelectsNode(tt.labels); got != tt.want {
			t.Errorf("%s: SelectsNode(%v) = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if !ExcludesNode(map[string]string{exclude: ""}) || ExcludesNode(map[string]string{"rack": "r1"}) {
		t.Error("ExcludesNode does not follow the label")
	}
}

func TestConflicts(t *testing.T) {
	others := []v1alpha2.Eip{
		*eip("v4", v1alpha2.EipSpec{Address: "192.0.2.0/24"}, v1alpha2.AnnotationDefaultEip, "true"),
		*eip("v6", v1alpha2.EipSpec{Address: "2001:db8::/120"}),
	}
	tests := []struct {
		name string
		eip  *v1alpha2.Eip
		want []string
	}{
		{"disjoint", eip("new", v1alpha2.EipSpec{Address: "198.51.100.0/24"}), nil},
		{"itself", eip("v4", v1alpha2.EipSpec{Address: "192.0.2.0/24"}, v1alpha2.AnnotationDefaultEip, "true"), nil},
		{"overlap v4", eip("new", v1alpha2.EipSpec{Address: "192.0.2.200-192.0.3.10"}), []string{`overlaps Eip "v4" (192.0.2.0/24)`}},
		{"overlap v6", eip("new", v1alpha2.EipSpec{Address: "2001:db8::80"}), []string{`overlaps Eip "v6"`}},
		{"second default v4", eip("new", v1alpha2.EipSpec{Address: "198.51.100.0/24"}, v1alpha2.AnnotationDefaultEip, "true"), []string{`Eip "v4" is already the default IPv4 pool`}},
		{"default v6 beside default v4", eip("new", v1alpha2.EipSpec{Address: "2001:db8:1::/120"}, v1alpha2.AnnotationDefaultEip, "true"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Conflicts(tt.eip, others)
			if len(errs) != len(tt.want) {
				t.Fatalf("Conflicts() = %v, want %d errors", errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	old := eip("p", v1alpha2.EipSpec{Address: "192.0.2.10-192.0.2.20"})
	inUse := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.15")}
	tests := []struct {
		name      string
		newSpec   v1alpha2.EipSpec
		allocated []netip.Addr
		want      []string
	}{
		{"grow", v1alpha2.EipSpec{Address: "192.0.2.0/24"}, inUse, nil},
		{"shrink keeping allocations", v1alpha2.EipSpec{Address: "192.0.2.10-192.0.2.15"}, inUse, nil},
		{"shrink dropping one", v1alpha2.EipSpec{Address: "192.0.2.11-192.0.2.20"}, inUse, []string{"would drop 1 allocated address(es): 192.0.2.10"}},
		{"move away", v1alpha2.EipSpec{Address: "198.51.100.0/24"}, inUse, []string{"would drop 2 allocated address(es): 192.0.2.10, 192.0.2.15"}},
		{"anything when unused", v1alpha2.EipSpec{Address: "198.51.100.0/24", Protocol: "layer2", Interface: "eth0"}, nil, nil},
		{"protocol change in use", v1alpha2.EipSpec{Address: "192.0.2.10-192.0.2.20", Protocol: "layer2", Interface: "eth0"}, inUse, []string{"spec.protocol: Forbidden: cannot change from bgp to layer2 while 2 address(es) are allocated"}},
		{"explicit bgp is no change", v1alpha2.EipSpec{Address: "192.0.2.10-192.0.2.20", Protocol: "bgp"}, inUse, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateUpdate(old, eip("p", tt.newSpec), tt.allocated)
			if len(errs) != len(tt.want) {
				t.Fatalf("ValidateUpdate() = %v, want %d errors", errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func vipEip(v *v1alpha2.EipVRRP) *v1alpha2.Eip {
	return eip("a", v1alpha2.EipSpec{Address: "192.0.2.1", Protocol: "vip", Interface: "eth0", VRRP: v})
}

// TestFromEipVRRP: spec.vrrp reaches the pool as the renderer's override;
// unset fields stay unset, so the cluster's settings apply.
func TestFromEipVRRP(t *testing.T) {
	p, err := FromEip(vipEip(&v1alpha2.EipVRRP{AdvertInterval: dur(100 * time.Millisecond), Unicast: ptr.To(false)}))
	if err != nil {
		t.Fatal(err)
	}
	if o := p.VRRP; o.AdvertInterval != 100*time.Millisecond || o.PreemptDelay != nil || o.Unicast == nil || *o.Unicast {
		t.Errorf("pool VRRP = %+v, want a 100ms advert, unicast off, no preempt delay", o)
	}
	if p, err = FromEip(vipEip(nil)); err != nil || !p.VRRP.IsZero() {
		t.Errorf("pool VRRP without spec.vrrp = %+v (err %v), want zero", p.VRRP, err)
	}
}
