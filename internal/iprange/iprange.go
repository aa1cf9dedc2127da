package iprange

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
)

// Errors callers branch on. Parse returns them bare or wrapped with the part
// of the text at fault; callers add the whole text, which they know.
var (
	// ErrEmpty is returned for an empty address.
	ErrEmpty = errors.New("address is empty")
	// ErrSyntax is returned when the text is not an address, a CIDR or a
	// first-last range.
	ErrSyntax = errors.New("not an IP address, CIDR or first-last range")
	// ErrMixedFamilies is returned for a range whose ends are of different
	// IP families.
	ErrMixedFamilies = errors.New("range mixes IPv4 and IPv6")
	// ErrReversed is returned for a range whose first address is after its
	// last one.
	ErrReversed = errors.New("first address is after the last one")
)

// Range is an inclusive range of addresses of a single IP family.
// The zero Range is invalid and contains nothing.
type Range struct {
	first, last netip.Addr
}

// Parse reads a pool address: "192.0.2.10", "192.0.2.0/24",
// "192.0.2.10-192.0.2.20" or their IPv6 equivalents. Blanks around the
// whole text and around the dash are ignored. A CIDR with host bits set
// ("192.0.2.7/24") means its whole network, as OpenELB reads it.
func Parse(s string) (Range, error) {
	text := strings.TrimSpace(s)
	if text == "" {
		return Range{}, ErrEmpty
	}
	if first, last, ok := strings.Cut(text, "-"); ok {
		return parseFirstLast(strings.TrimSpace(first), strings.TrimSpace(last))
	}
	if strings.Contains(text, "/") {
		prefix, err := netip.ParsePrefix(text)
		if err != nil {
			return Range{}, ErrSyntax
		}
		if err := checkAddr(prefix.Addr()); err != nil {
			return Range{}, err
		}
		return FromPrefix(prefix), nil
	}
	addr, err := netip.ParseAddr(text)
	if err != nil {
		return Range{}, ErrSyntax
	}
	if err := checkAddr(addr); err != nil {
		return Range{}, err
	}
	return Range{first: addr, last: addr}, nil
}

func parseFirstLast(firstText, lastText string) (Range, error) {
	first, err := netip.ParseAddr(firstText)
	if err != nil {
		return Range{}, fmt.Errorf("first address %q: %w", firstText, ErrSyntax)
	}
	last, err := netip.ParseAddr(lastText)
	if err != nil {
		return Range{}, fmt.Errorf("last address %q: %w", lastText, ErrSyntax)
	}
	if err := checkAddr(first); err != nil {
		return Range{}, err
	}
	if err := checkAddr(last); err != nil {
		return Range{}, err
	}
	if first.Is4() != last.Is4() {
		return Range{}, ErrMixedFamilies
	}
	if last.Less(first) {
		return Range{}, ErrReversed
	}
	return Range{first: first, last: last}, nil
}

// checkAddr refuses forms that parse but would surprise: zones and
// IPv4-mapped IPv6 addresses, which Kubernetes never puts in a Service.
func checkAddr(a netip.Addr) error {
	if a.Zone() != "" {
		return fmt.Errorf("%s has an IPv6 zone: %w", a, ErrSyntax)
	}
	if a.Is4In6() {
		return fmt.Errorf("%s is an IPv4-mapped IPv6 address, write the IPv4 address instead: %w", a, ErrSyntax)
	}
	return nil
}

// FromPrefix returns every address of the prefix's network.
func FromPrefix(p netip.Prefix) Range {
	p = p.Masked()
	first := p.Addr()
	hi, lo := toUint128(first)
	bits := first.BitLen() - p.Bits()
	hostHi, hostLo := onesBelow(bits)
	return Range{first: first, last: fromUint128(hi|hostHi, lo|hostLo, first.Is4())}
}

// First is the lowest address of the range.
func (r Range) First() netip.Addr { return r.first }

// Last is the highest address of the range.
func (r Range) Last() netip.Addr { return r.last }

// Is4 reports whether the range holds IPv4 addresses.
func (r Range) Is4() bool { return r.first.Is4() }

// IsValid reports whether r came from Parse or FromPrefix.
func (r Range) IsValid() bool { return r.first.IsValid() }

// Contains reports whether a lies in r.
func (r Range) Contains(a netip.Addr) bool {
	if !r.IsValid() || a.Is4() != r.first.Is4() || a.Zone() != "" {
		return false
	}
	return !a.Less(r.first) && !r.last.Less(a)
}

// Overlaps reports whether r and o share at least one address.
func (r Range) Overlaps(o Range) bool {
	if !r.IsValid() || !o.IsValid() || r.Is4() != o.Is4() {
		return false
	}
	return !r.last.Less(o.first) && !o.last.Less(r.first)
}

// Size is the number of addresses in r, saturated at math.MaxUint64.
func (r Range) Size() uint64 {
	if !r.IsValid() {
		return 0
	}
	hi, lo := sub128(r.last, r.first)
	if hi != 0 || lo == math.MaxUint64 {
		return math.MaxUint64
	}
	return lo + 1
}

// Index is the offset of a from the first address of r.
func (r Range) Index(a netip.Addr) (uint64, bool) {
	if !r.Contains(a) {
		return 0, false
	}
	hi, lo := sub128(a, r.first)
	if hi != 0 {
		return 0, false
	}
	return lo, true
}

// Nth returns the address i positions after the first one.
func (r Range) Nth(i uint64) (netip.Addr, bool) {
	if !r.IsValid() {
		return netip.Addr{}, false
	}
	hi, lo := toUint128(r.first)
	sumLo := lo + i
	if sumLo < lo {
		hi++
		if hi == 0 {
			return netip.Addr{}, false
		}
	}
	a := fromUint128(hi, sumLo, r.first.Is4())
	if r.first.Is4() && (hi != 0 || sumLo > math.MaxUint32) {
		return netip.Addr{}, false
	}
	if !r.Contains(a) {
		return netip.Addr{}, false
	}
	return a, true
}

// String gives the canonical text of r: one address when r holds one,
// otherwise "first-last".
func (r Range) String() string {
	if !r.IsValid() {
		return ""
	}
	if r.first == r.last {
		return r.first.String()
	}
	return r.first.String() + "-" + r.last.String()
}

func toUint128(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return 0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	}
	b := a.As16()
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[i+8])
	}
	return hi, lo
}

func fromUint128(hi, lo uint64, is4 bool) netip.Addr {
	if is4 {
		return netip.AddrFrom4([4]byte{byte(lo >> 24), byte(lo >> 16), byte(lo >> 8), byte(lo)})
	}
	var b [16]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(hi)
		b[i+8] = byte(lo)
		hi >>= 8
		lo >>= 8
	}
	return netip.AddrFrom16(b)
}

// sub128 returns a-b for a >= b of the same family.
func sub128(a, b netip.Addr) (hi, lo uint64) {
	ahi, alo := toUint128(a)
	bhi, blo := toUint128(b)
	lo = alo - blo
	borrow := uint64(0)
	if alo < blo {
		borrow = 1
	}
	return ahi - bhi - borrow, lo
}

// onesBelow returns a 128-bit value with the low n bits set.
func onesBelow(n int) (hi, lo uint64) {
	switch {
	case n <= 0:
		return 0, 0
	case n < 64:
		return 0, 1<<uint(n) - 1
	case n == 64:
		return 0, math.MaxUint64
	case n < 128:
		return 1<<uint(n-64) - 1, math.MaxUint64
	default:
		return math.MaxUint64, math.MaxUint64
	}
}
