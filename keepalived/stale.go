package keepalived

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
)

// HeldVIP is an address keepalived puts on an interface while one of its
// instances is MASTER, and removes when it stops gracefully. A keepalived
// that is killed (OOM, SIGKILL of its whole process group) leaves it there:
// the node keeps answering for the VIP beside the backup that took over
// (testbed-facts §5 measured the split brain), and if the restarted
// keepalived no longer has that instance, forever. The Supervisor removes
// such leftovers (Supervisor.Addresses).
type HeldVIP struct {
	// Interface is the interface the address goes on.
	Interface string
	// Addr is the address as a host prefix (/32 or /128): keepalived adds
	// VIPs as such unless told otherwise, and the cleanup never touches
	// anything wider, which could be a node's own address.
	Addr netip.Prefix
}

// AddressRemover deletes one address from one interface: the seam between
// the stale-VIP cleanup and the kernel (NetlinkAddresses in production, a
// recording fake in tests).
type AddressRemover interface {
	// RemoveAddress deletes exactly addr, a /32 or /128, from the interface
	// named ifname and reports whether it was there. A missing interface or
	// address is not an error.
	RemoveAddress(ifname string, addr netip.Prefix) (bool, error)
}

// ConfigVIPs returns the addresses a keepalived running conf may hold: the
// host-prefix entries of every vrrp_instance's virtual_ipaddress (and
// virtual_ipaddress_excluded) block, on the entry's `dev` or else the
// instance's interface, deduplicated and sorted. Entries with a wider
// prefix or without an interface are left out: they are not Herald's (its
// renderer writes `<addr>/<32|128> dev <interface>`), and removing them
// could cut a node off. The parser is lenient: it reads keepalived's
// syntax as far as VIPs go and ignores everything else.
func ConfigVIPs(conf []byte) []HeldVIP {
	var (
		out      []HeldVIP
		blocks   []string // names of the open blocks, outermost first
		name     string   // first word of the statement before a '{'
		iface    string   // the current vrrp_instance's interface
		pending  []entry  // its entries, resolved when the instance ends
		inVIPs   = func() bool { return len(blocks) == 2 && isVIPBlock(blocks[1]) }
		inInst   = func() bool { return len(blocks) >= 1 && blocks[0] == "vrrp_instance" }
		finished = func() {
			for _, e := range pending {
				if e.dev == "" {
					e.dev = iface
				}
				if e.dev != "" {
					out = append(out, HeldVIP{Interface: e.dev, Addr: e.addr})
				}
			}
			iface, pending = "", nil
		}
	)
	for _, line := range strings.Split(string(conf), "\n") {
		if i := strings.IndexAny(line, "#!"); i >= 0 {
			line = line[:i]
		}
		line = strings.NewReplacer("{", " { ", "}", " } ").Replace(line)
		fields := strings.Fields(line)
		name = ""
		for i := 0; i < len(fields); {
			switch f := fields[i]; {
			case f == "{":
				blocks = append(blocks, name)
				name = ""
				i++
			case f == "}":
				if len(blocks) > 0 {
					blocks = blocks[:len(blocks)-1]
					if len(blocks) == 0 {
						finished()
					}
				}
				i++
			case inVIPs() && inInst():
				j := i
				for j < len(fields) && fields[j] != "{" && fields[j] != "}" {
					j++
				}
				if e, ok := parseVIPEntry(fields[i:j]); ok {
					pending = append(pending, e)
				}
				i = j
			case len(blocks) == 1 && inInst() && f == "interface" && i+1 < len(fields):
				iface = fields[i+1]
				i += 2
			default:
				if name == "" {
					name = f
				}
				i++
			}
		}
	}
	return unionVIPs(out, nil)
}

// entry is one virtual_ipaddress line: its address and its `dev`, if any.
type entry struct {
	addr netip.Prefix
	dev  string
}

func isVIPBlock(name string) bool {
	return name == "virtual_ipaddress" || name == "virtual_ipaddress_excluded"
}

// parseVIPEntry reads `<addr>[/<len>] [... dev <ifname> ...]`; ok is false
// for anything but a plain host address (keepalived's default length for a
// bare address is the host's).
func parseVIPEntry(fields []string) (entry, bool) {
	if len(fields) == 0 {
		return entry{}, false
	}
	var p netip.Prefix
	if strings.Contains(fields[0], "/") {
		var err error
		if p, err = netip.ParsePrefix(fields[0]); err != nil {
			return entry{}, false
		}
	} else {
		a, err := netip.ParseAddr(fields[0])
		if err != nil {
			return entry{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a := p.Addr()
	if a.Zone() != "" || a.Is4In6() || p.Bits() != a.BitLen() {
		return entry{}, false
	}
	e := entry{addr: p}
	for i := 1; i+1 < len(fields); i++ {
		if fields[i] == "dev" {
			e.dev = fields[i+1]
		}
	}
	return e, true
}

// unionVIPs is a ∪ b, sorted and deduplicated like ConfigVIPs.
func unionVIPs(a, b []HeldVIP) []HeldVIP {
	out := append(slices.Clone(a), b...)
	slices.SortFunc(out, func(x, y HeldVIP) int {
		return cmp.Or(strings.Compare(x.Interface, y.Interface), x.Addr.Addr().Compare(y.Addr.Addr()))
	})
	return slices.Compact(out)
}
