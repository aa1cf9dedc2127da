package vip

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/herald-lb/herald/internal/iprange"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// vipWait bounds every wait for a VRRP transition: a master-down interval
// at 1 s is ~3 s; the rest is room for two loaded cores.
const vipWait = 30 * time.Second

// picker hands out the addresses the benchmark asks for, never one twice,
// so that a Service never reuses the address (and VRID) of one whose
// deletion keepalived may still be reloading.
type picker struct {
	nodes []string
	pools [numIntervals][]netip.Addr
	used  map[netip.Addr]bool
}

func newPicker(c *cluster.Cluster) *picker {
	p := &picker{used: map[netip.Addr]bool{}}
	for _, n := range c.Nodes {
		p.nodes = append(p.nodes, n.Name)
	}
	for i, pool := range [numIntervals]string{slowPool, fastPool} {
		r, err := iprange.Parse(pool)
		if err != nil {
			panic(err) // constants
		}
		for a := r.First(); ; a = a.Next() {
			p.pools[i] = append(p.pools[i], a)
			if a == r.Last() {
				break
			}
		}
	}
	return p
}

// firstRanked returns an unused address of i's pool that the VIP ranking
// puts node first for (keepalived.Rank over all nodes, as every speaker
// computes it): node then holds it whenever it is up.
func (p *picker) firstRanked(i interval, node string) (netip.Addr, error) {
	for _, a := range p.pools[i] {
		if !p.used[a] && keepalived.Rank(a, p.nodes)[0] == node {
			p.used[a] = true
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address of %s ranks %s first", i.eip(), node)
}

// next returns the highest unused address of i's pool: the controller
// gives Services without a requested address the lowest free ones.
func (p *picker) next(i interval) (netip.Addr, error) {
	for j := len(p.pools[i]) - 1; j >= 0; j-- {
		if a := p.pools[i][j]; !p.used[a] {
			p.used[a] = true
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no free address left", i.eip())
}

// masters returns the nodes of among whose state.json says MASTER for a.
func masters(among []*cluster.Node, a netip.Addr) []*cluster.Node {
	var out []*cluster.Node
	for _, n := range among {
		if st, err := n.VIPStates(); err == nil && st[a] == keepalived.StateMaster {
			out = append(out, n)
		}
	}
	return out
}

// waitHolder waits until exactly one of among has its keepalived MASTER
// for a, and it is one of want (any when none are given), and returns it
// and when the benchmark saw it. A lost node is left out of among: its
// last state.json may still say MASTER. state.json is a local file:
// polling it costs no exec and no API call.
func waitHolder(ctx context.Context, among []*cluster.Node, a netip.Addr, want ...*cluster.Node) (*cluster.Node, time.Time, error) {
	var holder *cluster.Node
	err := rig.Eventually(ctx, vipWait, 10*time.Millisecond, func(context.Context) error {
		ms := masters(among, a)
		if len(ms) != 1 {
			return fmt.Errorf("%s is MASTER on %s, want exactly one of %s", a, names(ms), names(among))
		}
		if len(want) > 0 && !slices.Contains(want, ms[0]) {
			return fmt.Errorf("%s is MASTER on %s, want one of %s", a, ms[0].Name, names(want))
		}
		holder = ms[0]
		return nil
	})
	return holder, time.Now(), err
}

// waitGone waits until no node's keepalived runs an instance for a.
func waitGone(ctx context.Context, c *cluster.Cluster, a netip.Addr) error {
	return rig.Eventually(ctx, vipWait, 20*time.Millisecond, func(context.Context) error {
		for _, n := range c.Nodes {
			if st, err := n.VIPStates(); err == nil {
				if s, ok := st[a]; ok {
					return fmt.Errorf("%s still %s on %s", a, s, n.Name)
				}
			}
		}
		return nil
	})
}

func names(nodes []*cluster.Node) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return "[" + strings.Join(out, ",") + "]"
}

func others(c *cluster.Cluster, not *cluster.Node) []*cluster.Node {
	var out []*cluster.Node
	for _, n := range c.Nodes {
		if n != not {
			out = append(out, n)
		}
	}
	return out
}

// startProbe runs the client's prober against http://ip/ every 10 ms
// (each request times out after 200 ms) and waits until it is ready.
func startProbe(ctx context.Context, c *cluster.Cluster, probe, name string, ip netip.Addr) (*rig.Proc, error) {
	return probelog.StartHTTP(ctx, c.Rig, c.Rig.Client.NS, name, probe, ip, 10*time.Millisecond, 3*time.Minute)
}

// stopAndParse stops a prober and returns its probes.
func stopAndParse(p *rig.Proc) ([]probelog.HTTP, error) { return probelog.StopHTTP(p) }

// fileHas reports whether the file at path contains s.
func fileHas(path, s string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(data), s)
}
