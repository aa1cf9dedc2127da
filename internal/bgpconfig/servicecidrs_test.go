package bgpconfig

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestParseServiceCIDRsKeepsTheValidOnes pins what the speakers get from
// a BgpConf admitted before the webhook existed: the valid ranges, in
// order, and the errors for the rest.
func TestParseServiceCIDRsKeepsTheValidOnes(t *testing.T) {
	spec := &v1alpha2.BgpConfSpec{
		ServiceClusterIPs:  []v1alpha2.ServiceIPBlock{{CIDR: "10.96.0.0/12"}, {CIDR: "10.96.0.1/12"}, {CIDR: "fd00:96::/108"}, {CIDR: "10.96.0.0/12"}},
		ServiceExternalIPs: []v1alpha2.ServiceIPBlock{{CIDR: "bad"}, {CIDR: "192.0.2.0/24"}},
	}
	got, errs := ParseServiceCIDRs(field.NewPath("spec"), spec)
	want := ServiceCIDRs{
		ClusterIPs:  []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("fd00:96::/108")},
		ExternalIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("ranges (-want +got):\n%s", diff)
	}
	wantErrs := []string{
		"spec.serviceClusterIPs[1].cidr: Invalid value",
		"spec.serviceClusterIPs[3].cidr: Duplicate value",
		"spec.serviceExternalIPs[0].cidr: Invalid value",
	}
	if diff := cmp.Diff(wantErrs, summarize(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
