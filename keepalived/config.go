package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
)

// Config is one node's view of VIP mode: everything Render needs to write
// that node's keepalived.conf, and nothing it would have to look up. The
// speaker builds it from the vip Eips, the Services holding their
// addresses, the VRIDs the controller assigned, the eligible nodes and the
// settings.
type Config struct {
	// Node is this node's name: keepalived's router_id, and how this node
	// finds its own place in each VIP's ranking.
	Node string
	// NodeAddrs are every eligible node's addresses for unicast mode (the
	// first of each family counts): this node's become unicast_src_ip, the
	// other participants' the unicast peers. A participant needs an address
	// of each family it runs instances of, so a node without an IPv6 address
	// must not be among the eligible nodes of IPv6 VIPs.
	NodeAddrs map[string][]netip.Addr
	// Settings are the cluster-wide VRRP settings.
	Settings Settings
	// VIPs are all the cluster's VIP addresses this node could take part
	// in; Render keeps those whose ranking puts this node within the cap.
	VIPs []VIP
}

// VIP is one VIP address and how the cluster serves it.
type VIP struct {
	// Addr is the address; IPv4-mapped IPv6 addresses count as IPv4.
	Addr netip.Addr
	// VRID is the controller's assignment (AssignVRIDs). An address the
	// controller could not give a VRID (pool exhausted) is not served and
	// must be left out: Render refuses a config with a VIP without one.
	VRID VRID
	// Interface is the resolved name of the interface this node puts the
	// address on.
	Interface string
	// Ranked are the nodes eligible for the address in Rank's order; the
	// first Settings.Participants run an instance, with priorities by
	// position (PriorityAt). Every node passes the same list.
	Ranked []string
	// Local is externalTrafficPolicy Local: the instance tracks a file the
	// speaker writes, non-zero while this node has no ready local endpoint,
	// which puts the instance in FAULT without a reload.
	Local bool
	// Override is the Eip's own VRRP settings (spec.vrrp), if any.
	Override Override
}

// instance is one vrrp_instance as the template writes it.
type instance struct {
	Name      string
	Addr      netip.Addr
	Prefix    int
	VRID      VRID
	Interface string
	Priority  int
	// State is the initial state: MASTER for OwnerPriority, else BACKUP.
	State string
	// Advert and PreemptDelay are the instance's advert_int and
	// preempt_delay as keepalived reads them; PreemptDelay "" for none.
	Advert, PreemptDelay string
	// Version is "3" when this instance needs VRRPv3 (a sub-second
	// advert) while the file's default is VRRPv2, else "".
	Version   string
	Unicast   bool
	SrcIP     netip.Addr
	Peers     []netip.Addr
	TrackFile string // "" unless Local
}

// view is the whole file as the template writes it.
type view struct {
	Node     string
	Settings Settings
	// VRRPv3 is the file's default version (vrrp_version 3).
	VRRPv3 bool
	// CheckUnicastSrc sets vrrp_check_unicast_src: some instance may run
	// unicast.
	CheckUnicastSrc bool
	Instances       []instance
}

// buildView validates c and computes every instance this node runs, sorted
// by family then address so the output is byte-for-byte stable.
func buildView(c Config) (view, error) {
	var errs []error
	if c.Node == "" {
		errs = append(errs, fmt.Errorf("node name: empty: %w", ErrInvalidConfig))
	}
	if err := c.Settings.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return view{}, err
	}
	v := view{
		Node:            c.Node,
		Settings:        c.Settings,
		VRRPv3:          c.Settings.needsVRRPv3(),
		CheckUnicastSrc: c.Settings.Unicast,
	}

	vips := slices.Clone(c.VIPs)
	for i := range vips {
		vips[i].Addr = vips[i].Addr.Unmap()
	}
	slices.SortStableFunc(vips, func(a, b VIP) int { return a.Addr.Compare(b.Addr) })
	var vridOwner [2]map[VRID]netip.Addr
	vridOwner[0], vridOwner[1] = map[VRID]netip.Addr{}, map[VRID]netip.Addr{}
	for i, vip := range vips {
		if !vip.Addr.IsValid() || vip.Addr.Zone() != "" {
			errs = append(errs, fmt.Errorf("vip %d (%q): not a plain address: %w", i, vip.Addr, ErrInvalidConfig))
			continue
		}
		if i > 0 && vips[i-1].Addr == vip.Addr {
			errs = append(errs, fmt.Errorf("vip %s: listed twice: %w", vip.Addr, ErrInvalidConfig))
			continue
		}
		if other, dup := vridOwner[family(vip.Addr)][vip.VRID]; dup && vip.VRID != 0 {
			errs = append(errs, fmt.Errorf("vip %s: vrid %d already used by %s: %w", vip.Addr, vip.VRID, other, ErrInvalidConfig))
			continue
		}
		vridOwner[family(vip.Addr)][vip.VRID] = vip.Addr
		inst, ok, err := c.instance(vip, v.VRRPv3)
		if err != nil {
			errs = append(errs, fmt.Errorf("vip %s: %w", vip.Addr, err))
			continue
		}
		if ok {
			v.Instances = append(v.Instances, inst)
			v.CheckUnicastSrc = v.CheckUnicastSrc || inst.Unicast
		}
	}
	return v, errors.Join(errs...)
}

// instance computes vip's instance on this node; ok is false when this node
// is not among its participants. Errors concern every node's view of vip
// (checked whether or not this node participates, so all nodes refuse the
// same input), or this node's own interface and addresses. v3 is the
// file's default VRRP version.
func (c Config) instance(vip VIP, v3 bool) (instance, bool, error) {
	if vip.VRID == 0 {
		return instance{}, false, fmt.Errorf("no vrid: %w", ErrInvalidConfig)
	}
	s := vip.Override.apply(c.Settings)
	if !vip.Override.IsZero() {
		if err := vip.Override.Validate(); err != nil {
			return instance{}, false, fmt.Errorf("eip settings: %w", err)
		}
	}
	if n, dup := firstDuplicate(vip.Ranked); dup {
		return instance{}, false, fmt.Errorf("node %q ranked twice: %w", n, ErrInvalidConfig)
	}
	participants := vip.Ranked[:min(len(vip.Ranked), c.Settings.participants())]
	rank := slices.Index(participants, c.Node)
	if rank < 0 {
		return instance{}, false, nil
	}
	if err := checkInterface(vip.Interface); err != nil {
		return instance{}, false, err
	}
	prio, err := PriorityAt(rank)
	if err != nil {
		return instance{}, false, err
	}
	inst := instance{
		Name:      InstanceName(vip.Addr),
		Addr:      vip.Addr,
		Prefix:    vip.Addr.BitLen(),
		VRID:      vip.VRID,
		Interface: vip.Interface,
		Priority:  prio,
		State:     "BACKUP",
		Advert:    seconds(s.advert()),
	}
	if rank == 0 && s.PreemptDelay == 0 {
		inst.Priority, inst.State = OwnerPriority, "MASTER"
	}
	if s.PreemptDelay > 0 {
		inst.PreemptDelay = seconds(s.PreemptDelay)
	}
	if s.needsVRRPv3() && !v3 {
		inst.Version = "3"
	}
	if vip.Local {
		inst.TrackFile = TrackFilePath(c.Settings.TrackDir, vip.Addr)
	}
	// A lone participant has nobody to send unicast adverts to: keepalived
	// would put it in FAULT (unicast_fault_no_peer) or refuse the config,
	// so it runs multicast until a second node is eligible. keepalived
	// matches instances across a reload by their unicast/multicast
	// addresses, so that switch likely re-creates the instance (a
	// master-down interval without the VIP; for the e2e suite to measure):
	// the price of serving a VIP that only one node may hold.
	if !s.Unicast || len(participants) < 2 {
		return inst, true, nil
	}
	inst.Unicast = true
	for _, n := range participants {
		a, ok := c.nodeAddr(n, vip.Addr)
		if !ok {
			return instance{}, false, fmt.Errorf("node %q: no %s address for unicast: %w", n, familyName(vip.Addr), ErrInvalidConfig)
		}
		if n == c.Node {
			inst.SrcIP = a
		} else {
			inst.Peers = append(inst.Peers, a)
		}
	}
	// Sorted, so a reranking among the same peers changes no byte.
	slices.SortFunc(inst.Peers, netip.Addr.Compare)
	return inst, true, nil
}

// nodeAddr is node's address of vip's family.
func (c Config) nodeAddr(node string, vip netip.Addr) (netip.Addr, bool) {
	for _, a := range c.NodeAddrs[node] {
		if a = a.Unmap(); a.IsValid() && a.Is4() == vip.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// checkInterface refuses names the kernel would (empty, longer than 15
// bytes, with '/', ':' or whitespace), which would otherwise reach
// keepalived's parser.
func checkInterface(name string) error {
	if name == "" || len(name) > 15 || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\"") {
		return fmt.Errorf("interface %q: not a valid interface name: %w", name, ErrInvalidConfig)
	}
	return nil
}

func firstDuplicate(names []string) (string, bool) {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return n, true
		}
		seen[n] = true
	}
	return "", false
}

func familyName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// InstanceName is the vrrp_instance (and track_file) name of a VIP: derived
// from the address alone, so it never changes while the VIP lives, and
// ParseInstanceName maps notify_fifo lines back to the address.
func InstanceName(vip netip.Addr) string {
	return "vip_" + vip.Unmap().String()
}

// ParseInstanceName is InstanceName's inverse; ok is false for names
// Herald did not write.
func ParseInstanceName(name string) (netip.Addr, bool) {
	s, ok := strings.CutPrefix(name, "vip_")
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, false
	}
	return a, true
}

// TrackFilePath is where the speaker writes vip's track file ("0" when
// this node has a ready local endpoint, "1" when not) and where
// keepalived reads it.
func TrackFilePath(dir string, vip netip.Addr) string {
	return filepath.Join(dir, vip.Unmap().String())
}
