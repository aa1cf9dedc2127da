package bgp

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
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

// wellKnownCommunities are the names advertisements may use, with their
// IANA values.
var wellKnownCommunities = map[string]uint32{
	"graceful-shutdown":   0xFFFF0000,
	"accept-own":          0xFFFF0001,
	"llgr-stale":          0xFFFF0006,
	"no-llgr":             0xFFFF0007,
	"blackhole":           0xFFFF029A,
	"no-export":           0xFFFFFF01,
	"no-advertise":        0xFFFFFF02,
	"no-export-subconfed": 0xFFFFFF03,
	"no-peer":             0xFFFFFF04,
}

// largePrefix marks a large community ("large:1:2:3").
const largePrefix = "large:"

// parseCommunity reads one community of an advertisement: a well-known
// name, an alias of BgpConf's spec.communities, "AS:value" or
// "large:G:L1:L2". aliases map names to values, which are read the same
// way except that they may not be aliases again. It adds the community to
// a.
func parseCommunity(s string, aliases map[string]string, a *Attrs) error {
	if v, ok := aliases[s]; ok {
		if err := parseCommunityValue(v, a); err != nil {
			return fmt.Errorf("alias %q of bgpconf %q: %w", s, v1alpha2.BgpConfName, err)
		}
		return nil
	}
	return parseCommunityValue(s, a)
}

func parseCommunityValue(s string, a *Attrs) error {
	if v, ok := wellKnownCommunities[strings.ToLower(s)]; ok {
		a.Communities = append(a.Communities, v)
		return nil
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(s), largePrefix); ok {
		parts := strings.Split(rest, ":")
		if len(parts) != 3 {
			return fmt.Errorf("large community %q: want large:global:local1:local2", s)
		}
		var n [3]uint32
		for i, p := range parts {
			v, err := strconv.ParseUint(p, 10, 32)
			if err != nil {
				return fmt.Errorf("large community %q: %w", s, err)
			}
			n[i] = uint32(v)
		}
		a.LargeCommunities = append(a.LargeCommunities, LargeCommunity{n[0], n[1], n[2]})
		return nil
	}
	hi, lo, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("community %q: not a well-known name, an alias, AS:value or large:global:local1:local2", s)
	}
	h, err := strconv.ParseUint(hi, 10, 16)
	if err != nil {
		return fmt.Errorf("community %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return fmt.Errorf("community %q: %w", s, err)
	}
	a.Communities = append(a.Communities, uint32(h)<<16|uint32(l))
	return nil
}
