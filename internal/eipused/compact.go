package eipused

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// ErrCorrupt is returned for a compact form that does not decode.
var ErrCorrupt = errors.New("usedCompact does not decode")

// Span is an inclusive run of addresses in use.
type Span struct {
	First, Last netip.Addr
}

// Encode returns the compact form of addrs counted from base, and the
// addresses it cannot express, sorted: those of the other family, before
// base, or 2^64 or more after it (IPv6 only), which the caller keeps in
// status.used. Duplicates count once; zoned addresses are refused as
// foreign.
func Encode(base netip.Addr, addrs []netip.Addr) (v1alpha2.EipUsedCompact, []netip.Addr) {
	offsets := make([]uint64, 0, len(addrs))
	var rest []netip.Addr
	for _, a := range addrs {
		if off, ok := offset(base, a); ok {
			offsets = append(offsets, off)
		} else {
			rest = append(rest, a)
		}
	}
	slices.Sort(offsets)
	offsets = slices.Compact(offsets)
	slices.SortFunc(rest, netip.Addr.Compare)
	rest = slices.Compact(rest)
	var buf []byte
	var next uint64 // the offset just past the previous run
	for i := 0; i < len(offsets); {
		j := i + 1
		for j < len(offsets) && offsets[j] == offsets[j-1]+1 {
			j++
		}
		buf = binary.AppendUvarint(buf, offsets[i]-next)
		buf = binary.AppendUvarint(buf, uint64(j-i))
		next = offsets[j-1] + 1 // wraps only past the last offset, where nothing follows
		i = j
	}
	return v1alpha2.EipUsedCompact{
		Base:  base.String(),
		Count: len(offsets),
		Runs:  base64.StdEncoding.EncodeToString(buf),
	}, rest
}

// Decode returns the runs a compact form marks in use, in address order.
// It checks what a reader must be able to rely on: the base parses, every
// run lies in the base's family, runs are non-empty and do not touch, and
// they hold Count addresses. Its memory is bounded by the text's length,
// whatever Count says.
func Decode(c *v1alpha2.EipUsedCompact) ([]Span, error) {
	if c == nil {
		return nil, nil
	}
	base, err := netip.ParseAddr(c.Base)
	if err != nil || base.Zone() != "" {
		return nil, fmt.Errorf("%w: base %q is not an address", ErrCorrupt, c.Base)
	}
	// Strict, and no line breaks (which the decoder would skip): one
	// set of addresses has one text, as Encode writes it.
	if strings.ContainsAny(c.Runs, "\r\n") {
		return nil, fmt.Errorf("%w: runs: line break", ErrCorrupt)
	}
	buf, err := base64.StdEncoding.Strict().DecodeString(c.Runs)
	if err != nil {
		return nil, fmt.Errorf("%w: runs: %w", ErrCorrupt, err)
	}
	var spans []Span
	var next, total uint64
	for len(buf) > 0 {
		gap, n := uvarint(buf)
		if n <= 0 {
			return nil, fmt.Errorf("%w: run %d: bad varint", ErrCorrupt, len(spans))
		}
		buf = buf[n:]
		length, n := uvarint(buf)
		if n <= 0 || length == 0 {
			return nil, fmt.Errorf("%w: run %d: bad or zero length", ErrCorrupt, len(spans))
		}
		buf = buf[n:]
		if len(spans) > 0 && gap == 0 {
			return nil, fmt.Errorf("%w: run %d touches the one before", ErrCorrupt, len(spans))
		}
		start, ok := add(next, gap)
		if !ok {
			return nil, fmt.Errorf("%w: run %d starts past 2^64", ErrCorrupt, len(spans))
		}
		end, ok := add(start, length-1)
		if !ok {
			return nil, fmt.Errorf("%w: run %d ends past 2^64", ErrCorrupt, len(spans))
		}
		first, ok1 := nth(base, start)
		last, ok2 := nth(base, end)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: run %d leaves the address family of %s", ErrCorrupt, len(spans), base)
		}
		if total, ok = add(total, length); !ok || total > math.MaxInt64 {
			return nil, fmt.Errorf("%w: more than 2^63 addresses", ErrCorrupt)
		}
		spans = append(spans, Span{First: first, Last: last})
		next = end + 1 // wraps only past the last offset, after which nothing may follow
		if end == math.MaxUint64 && len(buf) > 0 {
			return nil, fmt.Errorf("%w: run %d follows the last offset", ErrCorrupt, len(spans))
		}
	}
	if c.Count < 0 || uint64(c.Count) != total {
		return nil, fmt.Errorf("%w: count %d, but the runs hold %d addresses", ErrCorrupt, c.Count, total)
	}
	return spans, nil
}

// Contains reports whether a lies in one of spans (as Decode returns them).
func Contains(spans []Span, a netip.Addr) bool {
	_, found := slices.BinarySearchFunc(spans, a, func(s Span, a netip.Addr) int {
		if s.Last.Less(a) {
			return -1
		}
		if a.Less(s.First) {
			return 1
		}
		return 0
	})
	return found
}

// uvarint is binary.Uvarint refusing (n 0) the longer encodings of a
// value, whose last byte is 0.
func uvarint(buf []byte) (uint64, int) {
	v, n := binary.Uvarint(buf)
	if n > 1 && buf[n-1] == 0 {
		return 0, 0
	}
	return v, n
}

// add is a+b, reporting overflow.
func add(a, b uint64) (uint64, bool) {
	s := a + b
	return s, s >= a
}
