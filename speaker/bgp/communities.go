package bgp

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/community"
)

// Attrs are the path attributes an Eip's bgpAdvertisements put on a route.
// The zero value is a plain route: no LOCAL_PREF of Herald's (GoBGP gives
// iBGP peers 100) and no communities.
type Attrs struct {
	// LocalPref is LOCAL_PREF; 0 leaves it to GoBGP. GoBGP sends it to
	// iBGP peers only: it removes the attribute for every other peer after
	// the export policy has run (BgpServer.postFilterpath in v3.37.0).
	LocalPref uint32
	// Communities are RFC 1997 communities (high 16 bits the AS), sorted
	// and without duplicates.
	Communities []uint32
	// LargeCommunities are RFC 8092 communities, sorted and without
	// duplicates.
	LargeCommunities []LargeCommunity
}

// LargeCommunity is one RFC 8092 community, Global:Local1:Local2.
type LargeCommunity struct {
	Global, Local1, Local2 uint32
}

func (c LargeCommunity) String() string {
	return fmt.Sprintf("%d:%d:%d", c.Global, c.Local1, c.Local2)
}

func compareLarge(a, b LargeCommunity) int {
	return cmp.Or(cmp.Compare(a.Global, b.Global), cmp.Compare(a.Local1, b.Local1), cmp.Compare(a.Local2, b.Local2))
}

// IsZero reports whether a carries nothing.
func (a Attrs) IsZero() bool {
	return a.LocalPref == 0 && len(a.Communities) == 0 && len(a.LargeCommunities) == 0
}

// Equal reports whether a and b carry the same attributes.
func (a Attrs) Equal(b Attrs) bool {
	return a.LocalPref == b.LocalPref && slices.Equal(a.Communities, b.Communities) &&
		slices.Equal(a.LargeCommunities, b.LargeCommunities)
}

// merge is a and b together, as when two advertisements give one prefix to
// one peer: the communities of both and the higher local preference.
func (a Attrs) merge(b Attrs) Attrs {
	out := Attrs{
		LocalPref:        max(a.LocalPref, b.LocalPref),
		Communities:      slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a.Communities), b.Communities...)))),
		LargeCommunities: append(slices.Clone(a.LargeCommunities), b.LargeCommunities...),
	}
	slices.SortFunc(out.LargeCommunities, compareLarge)
	out.LargeCommunities = slices.Compact(out.LargeCommunities)
	if len(out.Communities) == 0 {
		out.Communities = nil
	}
	if len(out.LargeCommunities) == 0 {
		out.LargeCommunities = nil
	}
	return out
}

// key is a string that differs exactly when the attributes do.
func (a Attrs) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lp=%d c=", a.LocalPref)
	for _, c := range a.Communities {
		fmt.Fprintf(&b, "%d,", c)
	}
	b.WriteString(" l=")
	for _, c := range a.LargeCommunities {
		b.WriteString(c.String() + ",")
	}
	return b.String()
}

// addCommunity reads one community of an advertisement with
// internal/community, the parser the admission webhook checks Eips and
// BgpConf with, so that the speaker means by a string what admission
// accepted it as; aliases are BgpConf's spec.communities by name. It adds
// the community to a.
func addCommunity(s string, aliases map[string]string, a *Attrs) error {
	c, err := community.Parse(s, aliases)
	if errors.Is(err, community.ErrUnknownAlias) {
		return fmt.Errorf("%w of bgpconf %q", err, v1alpha2.BgpConfName)
	}
	if err != nil {
		return err
	}
	if c.Large {
		a.LargeCommunities = append(a.LargeCommunities, LargeCommunity{c.LargeValue[0], c.LargeValue[1], c.LargeValue[2]})
	} else {
		a.Communities = append(a.Communities, c.Standard)
	}
	return nil
}
