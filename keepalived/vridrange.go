package keepalived

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// VRID is a VRRP virtual router identifier. 0 is not a valid VRID; the
// valid ones are 1-255, one space per address family.
type VRID uint8

// VRIDSpan is an inclusive run of VRIDs, First ≤ Last, as an operator
// writes it ("7" or "1-10").
type VRIDSpan struct {
	First, Last VRID
}

// String renders the span in the syntax ParseVRIDSpan reads.
func (s VRIDSpan) String() string {
	if s.First == s.Last {
		return strconv.Itoa(int(s.First))
	}
	return fmt.Sprintf("%d-%d", s.First, s.Last)
}

// VRIDPool is the set of VRIDs Herald may use: the operator's range minus
// the exclusions (VRIDs other VRRP routers on the LAN use; two routers with
// one VRID on one LAN fight over each other's addresses). The zero value is
// empty; DefaultVRIDPool is 1-255.
type VRIDPool struct {
	allowed [256]bool
	size    int
}

// DefaultVRIDPool is every valid VRID, 1-255, for a LAN with no other VRRP.
func DefaultVRIDPool() VRIDPool {
	return NewVRIDPool(VRIDSpan{1, 255}, nil)
}

// NewVRIDPool is the VRIDs in span that no exclusion covers.
func NewVRIDPool(span VRIDSpan, exclude []VRIDSpan) VRIDPool {
	var p VRIDPool
	for v := int(max(span.First, 1)); v <= int(span.Last); v++ {
		p.allowed[v] = true
	}
	for _, x := range exclude {
		for v := int(x.First); v <= int(x.Last); v++ {
			p.allowed[v] = false
		}
	}
	for _, ok := range p.allowed {
		if ok {
			p.size++
		}
	}
	return p
}

// ParseVRIDPool reads the operator's settings: a range such as "1-255"
// (empty means 1-255) and a comma-separated exclusion list such as
// "1-10,50" (empty means none). The errors say which part is wrong.
func ParseVRIDPool(rangeSpec, exclusions string) (VRIDPool, error) {
	span := VRIDSpan{1, 255}
	if strings.TrimSpace(rangeSpec) != "" {
		var err error
		if span, err = ParseVRIDSpan(rangeSpec); err != nil {
			return VRIDPool{}, fmt.Errorf("vrid range: %w", err)
		}
	}
	exclude, err := ParseVRIDList(exclusions)
	if err != nil {
		return VRIDPool{}, fmt.Errorf("vrid exclusions: %w", err)
	}
	p := NewVRIDPool(span, exclude)
	if p.size == 0 {
		return VRIDPool{}, fmt.Errorf("vrid range %s minus exclusions %q leaves no VRID: %w", span, exclusions, ErrInvalidVRIDSpec)
	}
	return p, nil
}

// ParseVRIDSpan reads "N" or "N-M" with 1 ≤ N ≤ M ≤ 255.
func ParseVRIDSpan(s string) (VRIDSpan, error) {
	s = strings.TrimSpace(s)
	lo, hi, isRange := strings.Cut(s, "-")
	first, err := parseVRID(lo)
	if err != nil {
		return VRIDSpan{}, fmt.Errorf("%q: %w", s, err)
	}
	last := first
	if isRange {
		if last, err = parseVRID(hi); err != nil {
			return VRIDSpan{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	if first > last {
		return VRIDSpan{}, fmt.Errorf("%q: first %d above last %d: %w", s, first, last, ErrInvalidVRIDSpec)
	}
	return VRIDSpan{first, last}, nil
}

// ParseVRIDList reads a comma-separated list of spans ("1-10,50"); an empty
// or blank string is an empty list. Every bad element is reported.
func ParseVRIDList(s string) ([]VRIDSpan, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var spans []VRIDSpan
	var errs []error
	for i, part := range strings.Split(s, ",") {
		span, err := ParseVRIDSpan(part)
		if err != nil {
			errs = append(errs, fmt.Errorf("element %d: %w", i+1, err))
			continue
		}
		spans = append(spans, span)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return spans, nil
}

// ErrInvalidVRIDSpec marks a VRID range or exclusion the operator must fix.
var ErrInvalidVRIDSpec = errors.New("invalid vrid specification")

func parseVRID(s string) (VRID, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("missing number: %w", ErrInvalidVRIDSpec)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number: %w", s, ErrInvalidVRIDSpec)
	}
	if n < 1 || n > 255 {
		return 0, fmt.Errorf("%d outside 1-255: %w", n, ErrInvalidVRIDSpec)
	}
	return VRID(n), nil
}

// Contains reports whether v may be used.
func (p VRIDPool) Contains(v VRID) bool { return p.allowed[v] }

// Size is how many VIPs per address family the pool can serve; the webhook
// warns with it when a vip Eip holds more addresses.
func (p VRIDPool) Size() int { return p.size }
