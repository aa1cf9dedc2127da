package rig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// extraHosts are the LAN hosts a test added to a running rig.
type extraHosts struct {
	mu    sync.Mutex
	hosts []Host
}

func (e *extraHosts) has(ns string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.hosts, func(h Host) bool { return h.NS == ns })
}

func (e *extraHosts) get(name string) (Host, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := slices.IndexFunc(e.hosts, func(h Host) bool { return h.Name == name })
	if i < 0 {
		return Host{}, false
	}
	return e.hosts[i], true
}

// add records h unless its name or LAN address is taken.
func (e *extraHosts) add(h Host) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, o := range e.hosts {
		if o.Name == h.Name || o.LAN.IPv4 == h.LAN.IPv4 {
			return fmt.Errorf("host %s (%s) clashes with the added host %s (%s)", h.Name, h.LAN.IPv4, o.Name, o.LAN.IPv4)
		}
	}
	e.hosts = append(e.hosts, h)
	return nil
}

func (e *extraHosts) remove(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hosts = slices.DeleteFunc(e.hosts, func(h Host) bool { return h.Name == name })
}

// Host returns the host with the given role name: one of the plan's
// ("router", "node2") or one added by AddLANHost ("router2"). The fault
// helpers (LinkDown, CarrierDown, DropTraffic) find added hosts through it.
func (r *Rig) Host(name string) (Host, bool) {
	if h, ok := r.Plan.Host(name); ok {
		return h, true
	}
	return r.extra.get(name)
}

// AddLANHost adds a host to the running rig's LAN, for a peer only some
// tests need (the FRR ToR): namespace <prefix><name>, eth0 on the bridge
// with 10.99.0.<id> and fd99::<id> and the deterministic MAC of the plan,
// and the router's sysctls (it forwards). It gets no route at all, so the
// safety property holds for it too. Down removes it with the rest;
// RemoveLANHost removes it earlier. id must be free in the plan: 2-10 and
// 101-254 are never used by it.
func (r *Rig) AddLANHost(ctx context.Context, name string, id int) (Host, error) {
	if err := r.checkNewHost(name, id); err != nil {
		return Host{}, fmt.Errorf("add host %s: %w", name, err)
	}
	h := lanHost(r.Prefix, name, id)
	if err := r.extra.add(h); err != nil {
		return Host{}, fmt.Errorf("add host %s: %w", name, err)
	}
	if err := r.buildLANHost(ctx, h); err != nil {
		return Host{}, errors.Join(fmt.Errorf("add host %s: %w", name, err), r.RemoveLANHost(name))
	}
	r.logf("rig %s: added host %s (%s, %s)", r.Prefix, name, h.LAN.IPv4.Addr(), h.LAN.IPv6.Addr())
	return h, nil
}

// checkNewHost refuses a name or address the plan already uses.
func (r *Rig) checkNewHost(name string, id int) error {
	if name == "" || strings.ContainsAny(name, "/ ") {
		return fmt.Errorf("bad host name %q", name)
	}
	if id < 2 || id > 254 {
		return fmt.Errorf("id %d: want 2..254", id)
	}
	if _, ok := r.Plan.Host(name); ok || name == strings.TrimPrefix(r.BridgeNS, r.Prefix) {
		return fmt.Errorf("name %q is the plan's", name)
	}
	addr := hostPrefix(LANv4, id)
	for _, o := range r.Hosts() {
		if o.LAN.IPv4 == addr {
			return fmt.Errorf("address %s is %s's", addr.Addr(), o.Name)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errors.New("rig is down")
	}
	return nil
}

// buildLANHost makes h's namespace and wires it to the bridge, as build
// does for the plan's hosts.
func (r *Rig) buildLANHost(ctx context.Context, h Host) error {
	if _, err := run(ctx, "ip", "netns", "add", h.NS); err != nil {
		return err
	}
	fd, err := netns.GetFromName(h.NS)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", h.NS, err)
	}
	nh, err := netlink.NewHandleAt(fd)
	if err != nil {
		fd.Close()
		return fmt.Errorf("netlink handle in %s: %w", h.NS, err)
	}
	r.mu.Lock()
	if r.down {
		r.mu.Unlock()
		nh.Close()
		fd.Close()
		return errors.New("rig is down")
	}
	r.nsFDs[h.NS], r.handles[h.NS] = fd, nh
	r.mu.Unlock()

	br, err := r.handle(r.BridgeNS)
	if err != nil {
		return err
	}
	brLink, err := br.LinkByName(BridgeLink)
	if err != nil {
		return fmt.Errorf("find %s: %w", BridgeLink, err)
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{
			Name:         h.LAN.Port,
			HardwareAddr: portMAC(h.LAN),
			MasterIndex:  brLink.Attrs().Index,
		},
		PeerName:         h.LAN.Name,
		PeerHardwareAddr: h.LAN.MAC,
		PeerNamespace:    netlink.NsFd(fd),
	}
	if err := br.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s <-> %s/%s: %w", h.LAN.Port, h.NS, h.LAN.Name, err)
	}
	if err := r.applySysctls(ctx, h.NS, hostSysctls(h, true, false, r.opts.NeighReachable)); err != nil {
		return err
	}
	if err := r.configureHost(h); err != nil {
		return err
	}
	if err := setUp(br, h.LAN.Port); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	return nil
}

// RemoveLANHost ends the processes in an added host's namespace (by PID),
// deletes the namespace, and waits until its bridge port is gone, so that
// the same host can be added again.
func (r *Rig) RemoveLANHost(name string) error {
	h, ok := r.extra.get(name)
	if !ok {
		return fmt.Errorf("remove host %s: not an added host", name)
	}
	r.mu.Lock()
	nh, hasHandle := r.handles[h.NS]
	fd, hasFD := r.nsFDs[h.NS] // gone after Down, which closed them
	delete(r.handles, h.NS)
	delete(r.nsFDs, h.NS)
	r.mu.Unlock()
	if hasHandle {
		nh.Close()
	}
	if hasFD {
		fd.Close()
	}
	var errs []error
	if _, err := os.Stat(filepath.Join(netnsDir, h.NS)); err == nil {
		if err := Cleanup(h.NS); err != nil {
			errs = append(errs, err)
		}
	}
	r.extra.remove(name)
	if br, err := r.handle(r.BridgeNS); err == nil {
		err := Eventually(context.Background(), 5*time.Second, 10*time.Millisecond, func(context.Context) error {
			if _, err := br.LinkByName(h.LAN.Port); err == nil {
				return fmt.Errorf("bridge port %s still there", h.LAN.Port)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove host %s: %w", name, errors.Join(errs...))
	}
	return nil
}
