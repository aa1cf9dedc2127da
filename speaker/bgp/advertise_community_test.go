package bgp

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/community/communitytest"
)

// TestAdvertiseCommunitiesAsAdmission runs the table internal/community's
// tests run (what admission accepts and what it means) through Advertise:
// a valid community rides on the route as that value, and shows in logs as
// the numbers community.ParseValue reads back; an invalid one is left out
// with a note giving admission's reason, and the route still goes.
func TestAdvertiseCommunitiesAsAdmission(t *testing.T) {
	var aliases []v1alpha2.CommunityAlias
	for _, name := range slices.Sorted(maps.Keys(communitytest.Aliases)) {
		aliases = append(aliases, v1alpha2.CommunityAlias{Name: name, Value: communitytest.Aliases[name]})
	}
	peer := Peer{Name: "tor", Address: netip.MustParseAddr("10.0.0.1")}
	routes := []Route{{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Eip: "a"}}
	for _, tt := range communitytest.Examples {
		t.Run(tt.In, func(t *testing.T) {
			ads := map[string][]v1alpha2.BgpAdvertisement{"a": {{Communities: []string{tt.In}}}}
			paths, notes := Advertise(routes, ads, aliases, []Peer{peer})
			if len(paths) != 1 {
				t.Fatalf("paths = %v, want one for 192.0.2.1/32", paths)
			}
			got := paths[0].Attrs
			if tt.WantErr != "" {
				if !got.IsZero() {
					t.Errorf("attributes = %v, want none: the community is left out", got)
				}
				if len(notes) != 1 || !strings.Contains(notes[0], tt.WantErr) || !strings.HasSuffix(notes[0], "; left out") {
					t.Errorf("notes = %q, want one containing %q that says it is left out", notes, tt.WantErr)
				}
				return
			}
			if len(notes) != 0 {
				t.Errorf("notes = %q, want none", notes)
			}
			want := Attrs{Communities: []uint32{tt.Want.Standard}}
			if tt.Want.Large {
				v := tt.Want.LargeValue
				want = Attrs{LargeCommunities: []LargeCommunity{{v[0], v[1], v[2]}}}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("attributes (-want +got)\n%s", diff)
			}
			if got.String() != tt.Want.String() {
				t.Errorf("String() = %q, want %q", got.String(), tt.Want.String())
			}
		})
	}
}
