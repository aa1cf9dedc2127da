package rig

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// RouteAll returns `birdc show route <prefix> all`: every path BIRD holds
// for exactly prefix, with its BGP attributes (BGP.local_pref,
// BGP.community, BGP.large_community).
func (b *Bird) RouteAll(ctx context.Context, prefix netip.Prefix) (string, error) {
	return b.Cmd(ctx, "show", "route", prefix.String(), "all")
}

// BirdPath is one path of `show route ... all`: the protocol that learned
// it and its attribute lines ("BGP.local_pref: 250").
type BirdPath struct {
	Protocol string
	Attrs    []string
}

// Attr returns the value of attribute name ("BGP.community"), or "".
func (p BirdPath) Attr(name string) string {
	for _, a := range p.Attrs {
		if v, ok := strings.CutPrefix(a, name+": "); ok {
			return v
		}
	}
	return ""
}

// Paths parses RouteAll's output into its paths, in BIRD's order.
func (b *Bird) Paths(ctx context.Context, prefix netip.Prefix) ([]BirdPath, error) {
	out, err := b.RouteAll(ctx, prefix)
	if err != nil {
		return nil, err
	}
	return parseRouteAll(out), nil
}

// parseRouteAll reads `show route ... all`: a path starts with a line
// holding "unicast [<protocol> ..." (the first one after the prefix);
// its attributes follow, indented.
func parseRouteAll(out string) []BirdPath {
	var paths []BirdPath
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "unicast ["); i >= 0 {
			proto := strings.Fields(line[i+len("unicast ["):])
			p := BirdPath{}
			if len(proto) > 0 {
				p.Protocol = proto[0]
			}
			paths = append(paths, p)
			continue
		}
		if t := strings.TrimSpace(line); len(paths) > 0 && strings.HasPrefix(t, "BGP.") {
			paths[len(paths)-1].Attrs = append(paths[len(paths)-1].Attrs, t)
		}
	}
	return paths
}

// ImportWithdraws is the number of withdrawals protocol name has received
// (`show protocols all`, "Import withdraws" received column): unchanged
// across a change of attributes means the change came as one UPDATE, with
// no withdrawal before it.
func (b *Bird) ImportWithdraws(ctx context.Context, name string) (int, error) {
	out, err := b.Cmd(ctx, "show", "protocols", "all", name)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Import withdraws:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("protocol %s: no import withdraws line in:\n%s", name, out)
}
