package rig

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// sysctls returns, per namespace, the settings Up writes. A new network
// namespace inherits conf/all and conf/default from the host's (caveat C2),
// and per-interface neighbour parameters from the host's defaults (C3), so
// everything a test's outcome depends on is set explicitly here, for all,
// default and each interface. Keys are ordered: all and default before the
// interfaces, so the interface values are the ones that stick.
func sysctls(p Plan, neighReachable time.Duration) map[string][]string {
	out := map[string][]string{}
	for _, h := range p.Hosts() {
		out[h.NS] = hostSysctls(h, h.Name == p.Router.Name, h.Name == p.Client.Name, neighReachable)
	}
	// The switch: no IPv6 of its own (no link-local chatter from the
	// ports), and bridged frames never pass through netfilter (C4).
	out[p.BridgeNS] = []string{
		"net.ipv6.conf.all.disable_ipv6=1",
		"net.ipv6.conf.default.disable_ipv6=1",
		"net.bridge.bridge-nf-call-iptables=0",
		"net.bridge.bridge-nf-call-ip6tables=0",
		"net.bridge.bridge-nf-call-arptables=0",
	}
	return out
}

// hostSysctls are the settings of one host's namespace: a router forwards
// and spreads ECMP flows per connection, a client does not forward.
func hostSysctls(h Host, router, client bool, neighReachable time.Duration) []string {
	ifaces := []string{"lo", LANLink}
	if h.Uplink != nil {
		ifaces = append(ifaces, UplinkLink)
	}
	forward := "1" // router: required; nodes: DNAT to another namespace (§6)
	if client {
		forward = "0"
	}
	kv := []string{
		"net.ipv4.ip_forward=" + forward,
		"net.ipv6.conf.all.forwarding=" + forward,
	}
	if router {
		kv = append(kv,
			"net.ipv4.fib_multipath_hash_policy=1", // per-flow (L4) ECMP spreading
			"net.ipv6.fib_multipath_hash_policy=1",
			"net.ipv4.fib_multipath_use_neigh=1",
		)
	}
	for _, dev := range append([]string{"all", "default"}, ifaces...) {
		kv = append(kv,
			"net.ipv4.conf."+dev+".rp_filter=0",
			// Required once a VIP sits on lo (strictARP, §3); the
			// router and the client have two interfaces too.
			"net.ipv4.conf."+dev+".arp_ignore=1",
			"net.ipv4.conf."+dev+".arp_announce=2",
			// 0 is what real clients have: a GARP updates an entry but
			// never creates one.
			"net.ipv4.conf."+dev+".arp_accept=0",
			"net.ipv4.conf."+dev+".send_redirects=0",
			"net.ipv4.conf."+dev+".accept_redirects=0",
			"net.ipv6.conf."+dev+".disable_ipv6=0",
			"net.ipv6.conf."+dev+".accept_redirects=0",
			"net.ipv6.conf."+dev+".accept_ra=0",
			// No duplicate address detection: addresses are usable at
			// once instead of after a tentative second.
			"net.ipv6.conf."+dev+".accept_dad=0",
			"net.ipv6.conf."+dev+".dad_transmits=0",
			// IPv6 addresses survive a link flap, like IPv4 ones.
			"net.ipv6.conf."+dev+".keep_addr_on_down=1",
		)
	}
	ms := strconv.FormatInt(neighReachable.Milliseconds(), 10)
	for _, dev := range ifaces[1:] {
		for _, fam := range []string{"ipv4", "ipv6"} {
			kv = append(kv,
				"net."+fam+".neigh."+dev+".base_reachable_time_ms="+ms,
				"net."+fam+".neigh."+dev+".delay_first_probe_time=5",
				"net."+fam+".neigh."+dev+".retrans_time_ms=1000",
				"net."+fam+".neigh."+dev+".ucast_solicit=3",
				"net."+fam+".neigh."+dev+".mcast_solicit=3",
			)
		}
	}
	return kv
}

// applySysctls writes kv inside namespace ns with one sysctl process.
func (r *Rig) applySysctls(ctx context.Context, ns string, kv []string) error {
	argv := append([]string{"sysctl", "-q", "-w"}, kv...)
	if _, err := r.ExecContext(ctx, ns, argv...); err != nil {
		return fmt.Errorf("sysctls of %s: %w", ns, err)
	}
	return nil
}
