package speaker

import (
	"net/netip"
	"slices"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

// Service is what the speaker needs to know of one LoadBalancer Service.
type Service struct {
	// Key is "namespace/name".
	Key string
	// Addrs are the addresses in status.loadBalancer.ingress.
	Addrs []netip.Addr
	// LocalTraffic is externalTrafficPolicy Local: only nodes with a ready
	// endpoint of the Service may attract its traffic.
	LocalTraffic bool
	// ReadyNodes are the nodes with a ready endpoint of the Service.
	ReadyNodes []string
}

// Desired is what one node announces.
type Desired struct {
	// BGP are the addresses advertised as /32 or /128 routes, sorted.
	BGP []netip.Addr
	// Skipped explains, by address, why an address of some Service is not
	// announced by this node although it might be expected to.
	Skipped map[netip.Addr]string
}

// Compute decides what node announces. An address is announced in the
// mode of the Eip that contains it; when several Services share it, the
// node announces it if any of them would have it announce: one with
// Cluster traffic, or one with Local traffic that has a ready endpoint on
// the node. Addresses in no valid Eip are skipped, with the reason.
func Compute(node string, pools []eippool.Pool, services []Service) Desired {
	d := Desired{Skipped: map[netip.Addr]string{}}
	wanted := map[netip.Addr]bool{}
	protocol := map[netip.Addr]string{}
	for _, svc := range services {
		here := !svc.LocalTraffic || slices.Contains(svc.ReadyNodes, node)
		for _, a := range svc.Addrs {
			p, ok := poolOf(pools, a)
			if !ok {
				d.Skipped[a] = "in no valid Eip"
				continue
			}
			protocol[a] = p.Protocol
			wanted[a] = wanted[a] || here
		}
	}
	for a, yes := range wanted {
		if !yes {
			d.Skipped[a] = "externalTrafficPolicy Local and no ready endpoint on this node"
			continue
		}
		delete(d.Skipped, a)
		switch protocol[a] {
		case v1alpha2.ProtocolBGP:
			d.BGP = append(d.BGP, a)
		default:
			d.Skipped[a] = "protocol " + protocol[a] + " is not served by this speaker yet"
		}
	}
	slices.SortFunc(d.BGP, func(x, y netip.Addr) int { return x.Compare(y) })
	return d
}

func poolOf(pools []eippool.Pool, a netip.Addr) (eippool.Pool, bool) {
	for _, p := range pools {
		if p.Range.Contains(a) {
			return p, true
		}
	}
	return eippool.Pool{}, false
}
