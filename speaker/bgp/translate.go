package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
)

// ErrNoConf is returned by Translate when there is no BgpConf: BGP is off
// on every node until the BgpConf named "default" exists.
var ErrNoConf = errors.New("no BgpConf named " + v1alpha2.BgpConfName + ": BGP is off")

// Node is what translation needs to know about the node the speaker runs on.
type Node struct {
	// Name is the Node's name.
	Name string
	// Labels are the Node's labels: BgpPeer node selectors and BgpConf's
	// asPerRack (label openelb.kubesphere.io/rack) match on them.
	Labels map[string]string
	// Addresses are the node's addresses (its InternalIPs); the first IPv4
	// one is the router ID unless BgpConf sets one.
	Addresses []netip.Addr
	// Interfaces are the node's network interfaces by name, each with its
	// addresses in the kernel's order: BgpPeers' sourceAddress rules pick
	// the session's local address among them. Nil when unknown.
	Interfaces map[string][]netip.Addr
}

// PasswordFunc returns the password stored under ref; ref.Key is never
// empty when it is called.
type PasswordFunc func(ref v1alpha2.SecretKeyRef) (string, error)

// defaultPasswordKey is the Secret key read when authPasswordSecretRef has
// none.
const defaultPasswordKey = "password"

// Translate turns the BgpConf, the BgpPeers and facts about the node into
// the Config this node's router runs. It is pure apart from password, and
// checks objects with the same functions as the admission webhook, so an
// object admitted before the webhook existed gets the webhook's words.
//
// BgpPeers whose nodeSelector does not match the node are left out, so
// callers may pass all of them. The error is ErrNoConf for a nil conf, or
// says why no router can run (an invalid BgpConf, no router ID); anything
// less lands in Config.ConfProblems or Config.PeerProblems.
//
// A peer does not run at all, with problems saying why, when it fails the
// webhook's checks, its password Secret cannot be read, its selector is
// invalid, or another BgpPeer (earlier by name) has the same neighbour
// address, or its sourceAddress rule finds no address on this node
// (Node.Interfaces; see readSourceAddress). The speaker drops the younger of two such BgpPeers before it
// calls Translate (bgpconfig.NodePeers: the older wins, as the controller
// reports), so the name order here is only a last line of defence. These fields are reported as problems and otherwise ignored,
// because GoBGP has no such setting or Herald cannot give it what it needs:
//   - BgpConf: families other than 0 (ipv4-unicast) and 1 (ipv6-unicast);
//     policy (no routing policies are loaded).
//   - BgpPeer conf: peerGroup (no peer groups are defined); peerType when it
//     contradicts the AS numbers (GoBGP derives the type from them);
//     routeFlapDamping and sendCommunity (GoBGP v3 ignores both);
//     neighborInterface (no unnumbered sessions); vrf (no VRFs are defined,
//     the session runs in the global table); removePrivateAs and
//     replacePeerAs on iBGP sessions; allowOwnAs above 255.
//   - ebgpMultihop on an iBGP session, or multihopTtl while disabled.
//   - timers.config.minimumAdvertisementInterval (GoBGP sends updates at
//     once); holdTime 0, which GoBGP cannot propose: 65535 s is proposed
//     instead, so a router that proposes 0 still gets no keepalives;
//     keepaliveInterval 0 under a hold time (GoBGP uses a third of it).
//   - transport.mtuDiscovery; transport.remoteAddress other than the
//     neighbour address; tcpMss above 65535.
//   - gracefulRestart (BgpConf's or the peer's): longlivedEnabled (per-family
//     stale times cannot be expressed), staleRoutesTime, and the state
//     fields peerRestartTime, peerRestarting and mode.
//   - afiSafis: enabled false (GoBGP enables every listed family, as under
//     OpenELB), a family listed twice, addPaths sendMax above 255,
//     mpGracefulRestart while graceful restart is off, and graceful restart
//     on with no family that restarts gracefully.
func Translate(conf *v1alpha2.BgpConf, peers []v1alpha2.BgpPeer, node Node, password PasswordFunc) (Config, error) {
	if conf == nil {
		return Config{}, ErrNoConf
	}
	g, grDefault, confProblems, err := translateGlobal(conf, node)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Global: g, ConfProblems: confProblems}

	sorted := slices.Clone(peers)
	slices.SortFunc(sorted, func(a, b v1alpha2.BgpPeer) int { return strings.Compare(a.Name, b.Name) })
	owner := map[netip.Addr]string{}
	for i := range sorted {
		bp := &sorted[i]
		selected, err := bgpconfig.SelectsNode(&bp.Spec, node.Labels)
		if err != nil {
			cfg.addPeerProblems(bp.Name, fmt.Sprintf("%v; the peer runs on no node until it is fixed", err))
			continue
		}
		if !selected {
			continue
		}
		p, problems, ok := translatePeer(bp, grDefault, g.AS, password)
		if ok {
			if problem, started := p.readSourceAddress(bp.Spec.SourceAddress, node); !started {
				problems, ok = append(problems, problem), false
			}
		}
		if ok {
			if other, dup := owner[p.Address]; dup {
				problems = append(problems, fmt.Sprintf(
					"spec.conf.neighborAddress: %s is also the neighbour of BgpPeer %q; a router keeps one session per neighbour address, so this peer is not started",
					p.Address, other))
				ok = false
			}
		}
		cfg.addPeerProblems(bp.Name, problems...)
		if !ok {
			continue
		}
		owner[p.Address] = bp.Name
		cfg.Peers = append(cfg.Peers, p)
		if p.Passive && cfg.Global.ListenPort == NoListener {
			cfg.Global.ListenPort = BGPPort
		}
	}
	return cfg, nil
}

func (c *Config) addPeerProblems(name string, problems ...string) {
	if len(problems) == 0 {
		return
	}
	if c.PeerProblems == nil {
		c.PeerProblems = map[string][]string{}
	}
	c.PeerProblems[name] = append(c.PeerProblems[name], problems...)
}

// translateGlobal reads BgpConf into the router's identity, and returns the
// graceful-restart settings every peer without its own inherits.
func translateGlobal(conf *v1alpha2.BgpConf, node Node) (Global, *v1alpha2.GracefulRestart, []string, error) {
	if _, errs := bgpconfig.ValidateConf(conf); len(errs) > 0 {
		return Global{}, nil, nil, fmt.Errorf("bgpconf %q: %w", conf.Name, errs.ToAggregate())
	}
	s := &conf.Spec
	g := Global{AS: uint32(s.As), ListenPort: NoListener, UseMultiplePaths: s.UseMultiplePaths}
	var problems []string

	rackAS, rackMatched := uint32(0), false
	if rack, ok := node.Labels[v1alpha2.LabelRack]; ok {
		if as, ok := s.AsPerRack[rack]; ok {
			rackAS, rackMatched = uint32(as), true
		}
	}
	if rackMatched {
		g.AS = rackAS
	}
	if s.RouterId != "" && !rackMatched {
		g.RouterID = netip.MustParseAddr(s.RouterId) // ValidateConf checked it.
	} else {
		id, ok := firstIPv4(node.Addresses)
		if !ok {
			return Global{}, nil, nil, fmt.Errorf(
				"node %q: no IPv4 address to use as BGP router ID; give the node an IPv4 InternalIP or set spec.routerId in BgpConf %s",
				node.Name, conf.Name)
		}
		g.RouterID = id
	}
	if s.ListenPort > 0 {
		g.ListenPort = s.ListenPort
	}
	for _, a := range s.ListenAddresses {
		g.ListenAddresses = append(g.ListenAddresses, netip.MustParseAddr(a)) // ValidateConf checked it.
	}
	for i, f := range s.Families {
		switch f {
		case familyIndexIPv4Unicast:
			g.Families = append(g.Families, IPv4Unicast)
		case familyIndexIPv6Unicast:
			g.Families = append(g.Families, IPv6Unicast)
		default:
			problems = append(problems, fmt.Sprintf(
				"spec.families[%d]: GoBGP family %d is not unicast IPv4 (0) or IPv6 (1), the only families Herald announces; ignored", i, f))
		}
	}
	if s.Policy != "" {
		problems = append(problems, fmt.Sprintf(
			"spec.policy: Herald loads no GoBGP routing policy, so %q is ignored; speakers announce their own Service routes and accept no routes from peers",
			s.Policy))
	}
	problems = append(problems, grProblems("spec.gracefulRestart", s.GracefulRestart)...)
	return g, s.GracefulRestart, problems, nil
}

// GoBGP numbers families in BgpConf.spec.families by its own enumeration
// (ipv4-unicast is 0, ipv6-unicast 1), which OpenELB passed through.
const (
	familyIndexIPv4Unicast = 0
	familyIndexIPv6Unicast = 1
)

func firstIPv4(addrs []netip.Addr) (netip.Addr, bool) {
	for _, a := range addrs {
		if a.Unmap().Is4() && !a.IsUnspecified() {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// grProblems reports graceful-restart fields that are state GoBGP reports,
// or that it cannot honour, rather than settings it applies.
func grProblems(path string, gr *v1alpha2.GracefulRestart) []string {
	if gr == nil {
		return nil
	}
	var problems []string
	ignored := func(field, why string) {
		problems = append(problems, fmt.Sprintf("%s.%s: %s; ignored", path, field, why))
	}
	if gr.LonglivedEnabled {
		ignored("longlivedEnabled", "long-lived graceful restart (RFC 9494) needs a stale time per family, which the API cannot express")
	}
	if gr.StaleRoutesTime != 0 {
		ignored("staleRoutesTime", "GoBGP does not apply a stale-routes time")
	}
	if gr.PeerRestartTime != 0 {
		ignored("peerRestartTime", "it is the restart time the router announces, not a setting")
	}
	if gr.PeerRestarting {
		ignored("peerRestarting", "it is state the router announces, not a setting")
	}
	if gr.Mode != "" {
		ignored("mode", "it is state GoBGP reports, not a setting")
	}
	return problems
}
