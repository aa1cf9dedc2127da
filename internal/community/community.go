package community

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Community is one standard or large BGP community.
type Community struct {
	// Large says which of the two values is the community.
	Large bool
	// Standard is a standard community: the AS in the high 16 bits, the
	// value in the low 16.
	Standard uint32
	// LargeValue is a large community: global administrator, local data
	// part 1, local data part 2.
	LargeValue [3]uint32
}

// largePrefix starts the text of a large community.
const largePrefix = "large:"

// ErrUnknownAlias is returned for a name that is neither well known nor
// one of the aliases: callers word where aliases are defined.
var ErrUnknownAlias = errors.New("unknown community alias")

// wellKnown are the names the API documents, with their IANA values.
var wellKnown = map[string]uint32{
	"no-export":           0xFFFFFF01, // RFC 1997
	"no-advertise":        0xFFFFFF02, // RFC 1997
	"no-export-subconfed": 0xFFFFFF03, // RFC 1997
	"no-peer":             0xFFFFFF04, // RFC 3765
	"blackhole":           0xFFFF029A, // RFC 7999 (65535:666)
	"graceful-shutdown":   0xFFFF0000, // RFC 8326
	"accept-own":          0xFFFF0001, // RFC 7611
	"llgr-stale":          0xFFFF0006, // RFC 9494
	"no-llgr":             0xFFFF0007, // RFC 9494
}

// WellKnown returns the community a well-known name stands for. Aliases
// may not reuse these names, so that "no-export" means the same in every
// cluster.
func WellKnown(name string) (Community, bool) {
	v, ok := wellKnown[name]
	return Community{Standard: v}, ok
}

// Parse reads s as a standard or large community in numbers, a well-known
// name, or a key of aliases, whose value must be numbers (ParseValue): an
// alias never names another alias. A name found nowhere gives an error
// wrapping ErrUnknownAlias.
func Parse(s string, aliases map[string]string) (Community, error) {
	if c, ok := WellKnown(s); ok {
		return c, nil
	}
	if strings.Contains(s, ":") {
		return ParseValue(s)
	}
	v, ok := aliases[s]
	if !ok {
		return Community{}, fmt.Errorf("community %q: %w", s, ErrUnknownAlias)
	}
	c, err := ParseValue(v)
	if err != nil {
		return Community{}, fmt.Errorf("alias %q: %w", s, err)
	}
	return c, nil
}

// ParseValue reads a community written in numbers only: "AS:value" with
// two 16-bit numbers, or "large:A:B:C" with three 32-bit ones. It is what
// an alias's value may be.
func ParseValue(s string) (Community, error) {
	if rest, ok := strings.CutPrefix(s, largePrefix); ok {
		parts := strings.Split(rest, ":")
		if len(parts) != 3 {
			return Community{}, fmt.Errorf("community %q: a large community is large:<global admin>:<data 1>:<data 2>, three numbers", s)
		}
		c := Community{Large: true}
		for i, p := range parts {
			n, err := parseUint(p, 32)
			if err != nil {
				return Community{}, fmt.Errorf("community %q: part %d of a large community must be a number from 0 to 4294967295", s, i+1)
			}
			c.LargeValue[i] = uint32(n)
		}
		return c, nil
	}
	hi, lo, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(lo, ":") {
		return Community{}, fmt.Errorf("community %q: want <AS>:<value> with two numbers from 0 to 65535, or large:<a>:<b>:<c>", s)
	}
	h, err1 := parseUint(hi, 16)
	l, err2 := parseUint(lo, 16)
	if err1 != nil || err2 != nil {
		return Community{}, fmt.Errorf("community %q: both numbers of a standard community must be from 0 to 65535 (for a 4-byte AS use large:<AS>:<a>:<b>)", s)
	}
	return Community{Standard: uint32(h)<<16 | uint32(l)}, nil
}

// parseUint reads decimal digits only: no sign, no spaces.
func parseUint(s string, bits int) (uint64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q: not a decimal number", s)
	}
	return strconv.ParseUint(s, 10, bits)
}

// String writes the community in numbers, the form ParseValue reads.
func (c Community) String() string {
	if c.Large {
		return fmt.Sprintf("%s%d:%d:%d", largePrefix, c.LargeValue[0], c.LargeValue[1], c.LargeValue[2])
	}
	return fmt.Sprintf("%d:%d", c.Standard>>16, c.Standard&0xFFFF)
}
