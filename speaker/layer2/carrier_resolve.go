package layer2

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/herald-lb/herald/internal/eippool"
)

// ErrNoCarrier says an Eip's interface is missing, down or without
// carrier on this node.
var ErrNoCarrier = errors.New("interface missing, down or without carrier")

// RouteLookup finds the interface that routes to an address.
type RouteLookup interface {
	InterfaceTo(dst netip.Addr) (string, error)
}

// InterfaceFor returns the name of the interface a layer2 pool answers on
// (or a vip pool's keepalived holds its addresses on):
// spec.interface itself, or for "can_reach:<ip>" the interface the routing
// table sends that address through, as OpenELB does. Routes change, so
// resolve again on every reconcile rather than caching the answer.
func InterfaceFor(pool eippool.Pool, routes RouteLookup) (string, error) {
	if pool.CanReach.IsValid() {
		name, err := routes.InterfaceTo(pool.CanReach)
		if err != nil {
			return "", fmt.Errorf("eip %q: interface %q: %w", pool.Name, pool.Interface, err)
		}
		return name, nil
	}
	if pool.Interface == "" {
		return "", fmt.Errorf("eip %q: no interface set", pool.Name)
	}
	return pool.Interface, nil
}

// EipInterfaces is where this node can answer for each layer2 pool, or
// hold the addresses of each vip pool.
type EipInterfaces struct {
	// Available maps an Eip to its interface, which has carrier.
	Available map[string]string
	// Unavailable maps every other Eip to why: its interface does not
	// resolve, or wraps ErrNoCarrier.
	Unavailable map[string]error
}

// ResolveEipInterfaces resolves the interface of every pool and checks its
// carrier with up (CarrierWatch.Up).
func ResolveEipInterfaces(pools []eippool.Pool, routes RouteLookup, up func(iface string) bool) EipInterfaces {
	out := EipInterfaces{Available: map[string]string{}, Unavailable: map[string]error{}}
	for _, p := range pools {
		name, err := InterfaceFor(p, routes)
		switch {
		case err != nil:
			out.Unavailable[p.Name] = err
		case !up(name):
			out.Unavailable[p.Name] = fmt.Errorf("eip %q: interface %q: %w", p.Name, name, ErrNoCarrier)
		default:
			out.Available[p.Name] = name
		}
	}
	return out
}

// UnavailableNames lists the unavailable Eips, sorted, for
// NodeLease.SetUnavailableEips.
func (e EipInterfaces) UnavailableNames() []string {
	return slices.Sorted(maps.Keys(e.Unavailable))
}
