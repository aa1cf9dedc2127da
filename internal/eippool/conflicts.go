package eippool

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/iprange"
)

// Conflicts checks an Eip against the other Eips of the cluster: address
// overlap and a second default pool of the same IP family. others may contain e itself (same
// name); it is skipped.
func Conflicts(e *v1alpha2.Eip, others []v1alpha2.Eip) field.ErrorList {
	var errs field.ErrorList
	r, err := iprange.Parse(e.Spec.Address)
	for i := range others {
		o := &others[i]
		if o.Name == e.Name {
			continue
		}
		if err == nil {
			if or, oerr := iprange.Parse(o.Spec.Address); oerr == nil && r.Overlaps(or) {
				errs = append(errs, field.Invalid(field.NewPath("spec", "address"), e.Spec.Address,
					fmt.Sprintf("overlaps Eip %q (%s); pools must not share addresses", o.Name, o.Spec.Address)))
			}
		}
		if IsDefault(e) && IsDefault(o) && sameFamily(e, o) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "annotations").Key(v1alpha2.AnnotationDefaultEip), "true",
				fmt.Sprintf("Eip %q is already the default %s pool; remove the annotation from one of them", o.Name, familyName(o))))
		}
	}
	return errs
}

// sameFamily reports whether two Eips hold addresses of the same family. A
// cluster may have one default pool per family, so dual-stack Services get
// both; an unparsable address counts as IPv4 so that it still conflicts.
func sameFamily(a, b *v1alpha2.Eip) bool {
	return familyName(a) == familyName(b)
}

func familyName(e *v1alpha2.Eip) string {
	if r, err := iprange.Parse(e.Spec.Address); err == nil && !r.Is4() {
		return "IPv6"
	}
	return "IPv4"
}

// ValidateUpdate checks an edit of an Eip against the addresses allocated
// from it. Any edit that keeps every allocated address in the pool is
// allowed, growth included; the protocol cannot change while addresses are
// in use, because the Services' announcements would move under them.
func ValidateUpdate(oldEip, newEip *v1alpha2.Eip, allocated []netip.Addr) field.ErrorList {
	var errs field.ErrorList
	if len(allocated) == 0 {
		return nil
	}
	if Protocol(oldEip) != Protocol(newEip) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "protocol"), fmt.Sprintf(
			"cannot change from %s to %s while %d address(es) are allocated (%s); delete or move those Services first",
			Protocol(oldEip), Protocol(newEip), len(allocated), summarize(allocated))))
	}
	if oldEip.Spec.Address != newEip.Spec.Address {
		r, err := iprange.Parse(newEip.Spec.Address)
		if err != nil {
			return errs // Validate reports the syntax error.
		}
		var stranded []netip.Addr
		for _, a := range allocated {
			if !r.Contains(a) {
				stranded = append(stranded, a)
			}
		}
		if len(stranded) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("spec", "address"), newEip.Spec.Address, fmt.Sprintf(
				"would drop %d allocated address(es): %s; keep them in the pool or release them first",
				len(stranded), summarize(stranded))))
		}
	}
	return errs
}

// summarize lists up to ten addresses in order.
func summarize(addrs []netip.Addr) string {
	sorted := slices.Clone(addrs)
	slices.SortFunc(sorted, func(a, b netip.Addr) int { return a.Compare(b) })
	const max = 10
	var parts []string
	for i, a := range sorted {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(sorted)-max))
			break
		}
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ", ")
}
