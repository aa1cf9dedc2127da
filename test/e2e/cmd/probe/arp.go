package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
)

// probeARP broadcasts a who-has for target every interval until ctx ends
// and prints every answer: a reply to this client, or a gratuitous ARP of
// target (sender = target) from the node that took the address.
func probeARP(ctx context.Context, out *lines, ifname, target string, interval time.Duration) error {
	ip, err := netip.ParseAddr(target)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("-arp %q: not an IPv4 address", target)
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return fmt.Errorf("arp on %s: %w", ifname, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	read := make(chan error, 1)
	go func() { read <- readARP(ctx, c, out, ip, ifi.HardwareAddr) }()

	tick := time.NewTicker(interval)
	defer tick.Stop()
	out.ready()
	for {
		if err := c.Request(ip); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("arp request for %s: %w", ip, err)
		}
		select {
		case <-ctx.Done():
			c.Close()
			<-read
			return nil
		case err := <-read:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("arp read: %w", err)
		case <-tick.C:
		}
	}
}

// readARP prints the answers about ip until ctx ends (and closes c).
func readARP(ctx context.Context, c *arp.Client, out *lines, ip netip.Addr, self net.HardwareAddr) error {
	for {
		p, _, err := c.Read()
		at := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if p.SenderIP != ip || p.SenderHardwareAddr.String() == self.String() {
			continue
		}
		switch {
		case p.TargetIP == ip:
			out.printf("%d garp %s", at.UnixNano(), p.SenderHardwareAddr)
		case p.Operation == arp.OperationReply:
			out.printf("%d reply %s", at.UnixNano(), p.SenderHardwareAddr)
		}
	}
}
