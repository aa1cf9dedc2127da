package eippool

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eipused"
	"github.com/herald-lb/herald/internal/iprange"
)

// IsBuggyIP reports whether avoidBuggyIPs keeps a out of allocation: an
// IPv4 address ending in .0 or .255, which some old equipment drops as
// smurf protection.
func IsBuggyIP(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	last := a.As4()[3]
	return last == 0 || last == 255
}

// ValidateAvoidBuggyIPs refuses avoidBuggyIPs on a pool it would leave
// without a single address: one address ending in .0 or .255, or the two
// of x.y.z.255-x.y.(z+1).0. Any three addresses in a row hold one that is
// neither, so larger pools always keep some. Admission only, not part of
// Validate: an Eip that got past admission this way still holds its
// Services' addresses and must stay accepted; the allocator just hands
// nothing new out of it.
func ValidateAvoidBuggyIPs(e *v1alpha2.Eip) field.ErrorList {
	path := field.NewPath("spec", "avoidBuggyIPs")
	r, err := iprange.Parse(e.Spec.Address)
	if err != nil || !e.Spec.AvoidBuggyIPs || !r.IsValid() || !r.Is4() || r.Size() > 2 {
		return nil
	}
	if IsBuggyIP(r.First()) && IsBuggyIP(r.Last()) {
		return field.ErrorList{field.Invalid(path, true, fmt.Sprintf(
			"would leave this Eip (%s) no address to hand out: every one of its addresses ends in .0 or .255; remove avoidBuggyIPs or give the Eip other addresses",
			e.Spec.Address))}
	}
	return nil
}

// BuggyInUse returns the addresses that an update turning avoidBuggyIPs
// on finds in use (status.used) and would now avoid. Nothing is taken
// from their Services: the allocator only stops handing such addresses
// out, so the webhook admits the update with a warning naming them.
func BuggyInUse(oldEip, newEip *v1alpha2.Eip) []netip.Addr {
	if !newEip.Spec.AvoidBuggyIPs || oldEip.Spec.AvoidBuggyIPs {
		return nil
	}
	var out []netip.Addr
	for ip := range oldEip.Status.Used {
		if a, err := netip.ParseAddr(ip); err == nil && IsBuggyIP(a) {
			out = append(out, a)
		}
	}
	// A large pool records its addresses as runs (status.usedCompact);
	// a corrupt one says nothing, and the warning is only advice.
	spans, _ := eipused.Decode(oldEip.Status.UsedCompact)
	for _, sp := range spans {
		out = append(out, buggyIn(sp.First, sp.Last)...)
	}
	return out
}

// buggyIn returns the IPv4 addresses ending in .0 or .255 from first to
// last, inclusive: two per /24 the run crosses, so a 60,000-address run
// yields about 470.
func buggyIn(first, last netip.Addr) []netip.Addr {
	if !first.Is4() || !last.Is4() || last.Less(first) {
		return nil
	}
	var out []netip.Addr
	b := first.As4()
	for a := netip.AddrFrom4([4]byte{b[0], b[1], b[2], 0}); !last.Less(a); {
		if !a.Less(first) {
			out = append(out, a)
		}
		q := a.As4()
		end := netip.AddrFrom4([4]byte{q[0], q[1], q[2], 255})
		if !last.Less(end) && !end.Less(first) {
			out = append(out, end)
		}
		next := end.Next()
		if !next.IsValid() || next.Less(end) {
			break
		}
		a = next
	}
	return out
}

// BuggyInUseWarning words BuggyInUse's finding; "" when there is none.
func BuggyInUseWarning(addrs []netip.Addr) string {
	if len(addrs) == 0 {
		return ""
	}
	return fmt.Sprintf("spec.avoidBuggyIPs: %d address(es) ending in .0 or .255 are in use (%s); each stays with its Service until released, and is not handed out again after that",
		len(addrs), summarize(addrs))
}
