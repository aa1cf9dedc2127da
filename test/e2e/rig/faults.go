package rig

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/vishvananda/netlink"
)

// dropComment marks the iptables rules DropTraffic adds.
const dropComment = "herald-e2e-drop"

// LinkDown sets the host's LAN interface (eth0) administratively down, as
// a failed NIC: the host sees its own link go down, and the kernel flushes
// the routes through it (caveat C1). Addresses stay (keep_addr_on_down).
func (r *Rig) LinkDown(host string) error {
	h, nh, err := r.hostHandle(host)
	if err != nil {
		return err
	}
	link, err := nh.LinkByName(h.LAN.Name)
	if err != nil {
		return fmt.Errorf("link down %s: %w", host, err)
	}
	if err := nh.LinkSetDown(link); err != nil {
		return fmt.Errorf("link down %s: %w", host, err)
	}
	return nil
}

// LinkUp sets the host's LAN interface up again and restores the static
// routes the plan gives it, which LinkDown's flap flushed.
func (r *Rig) LinkUp(host string) error {
	h, nh, err := r.hostHandle(host)
	if err != nil {
		return err
	}
	link, err := nh.LinkByName(h.LAN.Name)
	if err != nil {
		return fmt.Errorf("link up %s: %w", host, err)
	}
	if err := nh.LinkSetUp(link); err != nil {
		return fmt.Errorf("link up %s: %w", host, err)
	}
	if err := r.addRoutes(h); err != nil {
		return fmt.Errorf("link up %s: restore routes: %w", host, err)
	}
	return nil
}

// CarrierDown sets the host's port on the bridge down, as a pulled cable
// or a switch port failure: the host's eth0 stays administratively up but
// loses carrier (NO-CARRIER), which a speaker watching link state sees.
func (r *Rig) CarrierDown(host string) error { return r.setPort(host, false) }

// CarrierUp sets the host's bridge port up again.
func (r *Rig) CarrierUp(host string) error { return r.setPort(host, true) }

func (r *Rig) setPort(host string, up bool) error {
	h, ok := r.Host(host)
	if !ok {
		return fmt.Errorf("carrier %s: no such host", host)
	}
	br, err := r.handle(r.BridgeNS)
	if err != nil {
		return err
	}
	link, err := br.LinkByName(h.LAN.Port)
	if err != nil {
		return fmt.Errorf("carrier %s: %w", host, err)
	}
	if up {
		err = br.LinkSetUp(link)
	} else {
		err = br.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("carrier %s up=%v: %w", host, up, err)
	}
	return nil
}

// Drop selects the packets DropTraffic drops; zero fields match anything.
type Drop struct {
	// Proto is "tcp", "udp", "icmp" (IPv4) / "ipv6-icmp", or empty for all.
	Proto string
	// Port matches the source or the destination port (tcp/udp only).
	Port int
	// Peer matches the other end's address; when set, only its family's
	// table gets rules.
	Peer netip.Addr
}

// DropTraffic makes the host silently drop matching packets in both
// directions (INPUT and OUTPUT, IPv4 and IPv6 unless Peer picks one), the
// way to fail a BGP session without a TCP close (hold-timer tests). It
// returns the function that removes exactly those rules again. The rules
// use the system's default iptables (nft backend): mixing in
// iptables-legacy would leave legacy tables behind (caveat C12).
func (r *Rig) DropTraffic(host string, d Drop) (restore func() error, err error) {
	h, ok := r.Host(host)
	if !ok {
		return nil, fmt.Errorf("drop on %s: no such host", host)
	}
	if d.Port != 0 && d.Proto != "tcp" && d.Proto != "udp" {
		return nil, fmt.Errorf("drop on %s: a port needs proto tcp or udp, not %q", host, d.Proto)
	}
	var rules [][]string // each: tool, chain, match...
	for _, tool := range []string{"iptables", "ip6tables"} {
		if d.Peer.IsValid() && d.Peer.Is4() != (tool == "iptables") {
			continue
		}
		for _, dir := range []struct{ chain, peerFlag string }{
			{"INPUT", "-s"}, {"OUTPUT", "-d"},
		} {
			base := []string{tool, dir.chain}
			if d.Proto != "" {
				base = append(base, "-p", d.Proto)
			}
			if d.Peer.IsValid() {
				base = append(base, dir.peerFlag, d.Peer.String())
			}
			if d.Port == 0 {
				rules = append(rules, base)
				continue
			}
			port := strconv.Itoa(d.Port)
			rules = append(rules,
				append(append([]string(nil), base...), "--dport", port),
				append(append([]string(nil), base...), "--sport", port))
		}
	}
	ctx := context.Background()
	var added [][]string
	restore = func() error {
		var errs []error
		for _, rule := range added {
			if _, err := r.ExecContext(ctx, h.NS, iptablesArgs("-D", rule)...); err != nil {
				errs = append(errs, err)
			}
		}
		added = nil
		return errors.Join(errs...)
	}
	for _, rule := range rules {
		if _, err := r.ExecContext(ctx, h.NS, iptablesArgs("-I", rule)...); err != nil {
			return nil, errors.Join(fmt.Errorf("drop on %s: %w", host, err), restore())
		}
		added = append(added, rule)
	}
	return restore, nil
}

// iptablesArgs turns a rule (tool, chain, matches...) into the command
// that inserts (-I) or deletes (-D) it.
func iptablesArgs(op string, rule []string) []string {
	args := []string{rule[0], "-w", "5", op, rule[1]}
	args = append(args, rule[2:]...)
	return append(args, "-m", "comment", "--comment", dropComment, "-j", "DROP")
}

// hostHandle returns the host of that name and its namespace's handle.
func (r *Rig) hostHandle(name string) (Host, *netlink.Handle, error) {
	h, ok := r.Host(name)
	if !ok {
		return Host{}, nil, fmt.Errorf("no host %q in the rig", name)
	}
	nh, err := r.handle(h.NS)
	if err != nil {
		return Host{}, nil, err
	}
	return h, nh, nil
}
