package metallbmigrate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// wellKnown are the community names Herald's advertisements accept as
// they are (RFC 1997, 7611, 7999, 8326, 8642, 9494), with their values.
var wellKnown = map[string]string{
	"no-export":           "65535:65281",
	"no-advertise":        "65535:65282",
	"no-export-subconfed": "65535:65283",
	"no-peer":             "65535:65284",
	"blackhole":           "65535:666",
	"graceful-shutdown":   "65535:0",
	"accept-own":          "65535:1",
	"llgr-stale":          "65535:6",
	"no-llgr":             "65535:7",
}

// communities is the alias table of a configuration: what BgpConf gets
// and how an advertisement's community references are rewritten.
type communities struct {
	// aliases go to BgpConf.spec.communities, in input order.
	aliases []v1alpha2.CommunityAlias
	// values maps every MetalLB alias to its value.
	values map[string]string
	// rewrite maps an alias that Herald cannot keep under its name (a
	// well-known name given another value) to what advertisements write
	// instead.
	rewrite map[string]string
	notes   []string
}

// buildCommunities merges the Community objects (and the classic
// bgp-communities) into one alias table. An alias named like a well-known
// community with the same value is left out, since Herald knows the name;
// with another value, references to it are rewritten to the value, as
// Herald reserves the well-known names.
func buildCommunities(objs []community) (*communities, error) {
	c := &communities{values: map[string]string{}, rewrite: map[string]string{}}
	for _, obj := range objs {
		for i, a := range obj.Spec.Communities {
			field := fmt.Sprintf("spec.communities[%d]", i)
			if obj.classic {
				field = a.Name
			}
			if a.Name == "" {
				return nil, fmt.Errorf("%s: %s.name: required", obj.src, field)
			}
			value := strings.TrimSpace(a.Value)
			if err := checkCommunity(value); err != nil {
				return nil, fmt.Errorf("%s: %s: %q: %w", obj.src, field, a.Value, err)
			}
			if old, ok := c.values[a.Name]; ok {
				if old != value {
					return nil, fmt.Errorf("%s: %s: alias %q is %s here and %s in an earlier Community", obj.src, field, a.Name, value, old)
				}
				continue
			}
			c.values[a.Name] = value
			if wk, ok := wellKnown[a.Name]; ok {
				if wk == value {
					c.notes = append(c.notes, fmt.Sprintf("Community alias %s (%s) is a well-known name Herald knows with the same value: not repeated in spec.communities.", a.Name, value))
				} else {
					c.rewrite[a.Name] = value
					c.notes = append(c.notes, fmt.Sprintf("Community alias %s means %s in MetalLB, but %s is the well-known community %s, a name Herald's aliases may not take: advertisements carry the value %s instead.",
						a.Name, value, a.Name, wk, value))
				}
				continue
			}
			c.aliases = append(c.aliases, v1alpha2.CommunityAlias{Name: a.Name, Value: value})
		}
	}
	return c, nil
}

// resolve is the community an advertisement writes for a MetalLB
// reference: a literal, a well-known name or an alias.
func (c *communities) resolve(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if v, ok := c.rewrite[ref]; ok {
		return v, nil
	}
	if _, ok := c.values[ref]; ok {
		return ref, nil
	}
	if _, ok := wellKnown[ref]; ok {
		return ref, nil
	}
	if err := checkCommunity(ref); err != nil {
		return "", fmt.Errorf("%q is neither a community (65535:65282, large:1:2:3) nor a defined alias", ref)
	}
	return ref, nil
}

// checkCommunity accepts a standard community ("65535:65282", two 16-bit
// numbers) or a large one ("large:1:2:3", three 32-bit numbers).
func checkCommunity(s string) error {
	parts, bits := strings.Split(s, ":"), 16
	if rest, ok := strings.CutPrefix(s, "large:"); ok {
		parts, bits = strings.Split(rest, ":"), 32
		if len(parts) != 3 {
			return fmt.Errorf("a large community is large:<global>:<local1>:<local2>")
		}
	} else if len(parts) != 2 {
		return fmt.Errorf("a community is <as>:<value> (65535:65282) or large:<global>:<local1>:<local2>")
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, bits); err != nil {
			return fmt.Errorf("%q is not a %d-bit number", p, bits)
		}
	}
	return nil
}
