package rig

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// Ping sends one ICMP echo from namespace ns to dst and waits at most a
// second for the reply.
func (r *Rig) Ping(ctx context.Context, ns string, dst netip.Addr) error {
	fam := "-4"
	if dst.Is6() {
		fam = "-6"
	}
	if _, err := r.ExecContext(ctx, ns, "ping", fam, "-n", "-q", "-c", "1", "-W", "1", dst.String()); err != nil {
		return fmt.Errorf("ping %s from %s: %w", dst, ns, err)
	}
	return nil
}

// PingPair is one source namespace and one destination of the mesh.
type PingPair struct {
	From string
	To   netip.Addr
}

// MeshPairs lists the pings that prove the topology: every host to every
// other host's LAN addresses (IPv4 and IPv6), the client to the router's
// uplink end, and each node to the client's uplink end, which only the
// router's forwarding reaches.
func (p Plan) MeshPairs() []PingPair {
	var out []PingPair
	hosts := p.Hosts()
	for _, from := range hosts {
		for _, to := range hosts {
			if from.Name == to.Name {
				continue
			}
			out = append(out, PingPair{from.NS, to.LAN.IPv4.Addr()}, PingPair{from.NS, to.LAN.IPv6.Addr()})
		}
	}
	out = append(out,
		PingPair{p.Client.NS, p.Router.Uplink.IPv4.Addr()},
		PingPair{p.Client.NS, p.Router.Uplink.IPv6.Addr()})
	for _, n := range p.Nodes {
		out = append(out,
			PingPair{n.NS, p.Client.Uplink.IPv4.Addr()},
			PingPair{n.NS, p.Client.Uplink.IPv6.Addr()})
	}
	return out
}

// PingMesh runs the pings of MeshPairs, the pings of one source in
// sequence and the sources in parallel, and returns every failure.
func (r *Rig) PingMesh(ctx context.Context) error {
	bySource := map[string][]netip.Addr{}
	for _, pp := range r.MeshPairs() {
		bySource[pp.From] = append(bySource[pp.From], pp.To)
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for ns, dsts := range bySource {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, dst := range dsts {
				if err := r.Ping(ctx, ns, dst); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
