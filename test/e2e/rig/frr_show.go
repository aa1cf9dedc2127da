package rig

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FRRPath is one BGP path FRR holds for a prefix: what the speaker sent,
// as FRR understood it.
type FRRPath struct {
	// Peer is the session the path came from.
	Peer netip.Addr
	// NextHop is the global next hop (for IPv6 FRR also keeps the
	// link-local one, which is what zebra installs; see Routes).
	NextHop netip.Addr
	// ASPath is FRR's string, "" for a path from an iBGP peer's own AS.
	ASPath string
	Origin string
	// LocalPref is LOCAL_PREF (iBGP; FRR shows 100 when absent there).
	LocalPref uint32
	MED       uint32
	// Communities are numeric ("65535:65282"), sorted: FRR prints
	// well-known ones by name ("no-advertise"), NormalizeCommunity maps
	// them back, so tests compare with what Herald was configured with.
	Communities []string
	// LargeCommunities are "global:local1:local2", sorted.
	LargeCommunities []string
	// Best is the selected path; Multipath one used for ECMP with it.
	Best, Multipath, Valid bool
	// Stale marks a path kept while its speaker restarts gracefully.
	Stale bool
}

// FRRBGPRoute is FRR's BGP table entry for one prefix.
type FRRBGPRoute struct {
	Prefix netip.Prefix
	Paths  []FRRPath
}

// NextHops returns the next hops of the valid paths, sorted.
func (b FRRBGPRoute) NextHops() []netip.Addr {
	var out []netip.Addr
	for _, p := range b.Paths {
		if p.Valid {
			out = append(out, p.NextHop)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// frrBGPJSON is `show bgp <afi> unicast <prefix> json` (FRR 8.4); an
// unknown prefix prints {}.
type frrBGPJSON struct {
	Prefix string `json:"prefix"`
	Paths  []struct {
		ASPath struct {
			String string `json:"string"`
		} `json:"aspath"`
		Origin    string `json:"origin"`
		LocPrf    uint32 `json:"locPrf"`
		Metric    uint32 `json:"metric"`
		Valid     bool   `json:"valid"`
		Multipath bool   `json:"multipath"`
		Stale     bool   `json:"stale"`
		Bestpath  *struct {
			Overall bool `json:"overall"`
		} `json:"bestpath"`
		Community *struct {
			String string `json:"string"`
		} `json:"community"`
		LargeCommunity *struct {
			String string `json:"string"`
		} `json:"largeCommunity"`
		Nexthops []struct {
			IP    string `json:"ip"`
			Scope string `json:"scope"`
		} `json:"nexthops"`
		Peer struct {
			PeerID string `json:"peerId"`
		} `json:"peer"`
	} `json:"paths"`
}

// BGPRoute returns FRR's BGP paths for prefix (`show bgp ipv4|ipv6 unicast
// <prefix> json`); no paths when FRR has none.
func (f *FRR) BGPRoute(ctx context.Context, prefix netip.Prefix) (FRRBGPRoute, error) {
	prefix = prefix.Masked()
	afi := "ipv4"
	if prefix.Addr().Is6() {
		afi = "ipv6"
	}
	var raw frrBGPJSON
	if err := f.JSON(ctx, fmt.Sprintf("show bgp %s unicast %s json", afi, prefix), &raw); err != nil {
		return FRRBGPRoute{}, err
	}
	return parseFRRBGP(prefix, raw)
}

func parseFRRBGP(prefix netip.Prefix, raw frrBGPJSON) (FRRBGPRoute, error) {
	out := FRRBGPRoute{Prefix: prefix}
	for _, rp := range raw.Paths {
		p := FRRPath{
			ASPath:    rp.ASPath.String,
			Origin:    rp.Origin,
			LocalPref: rp.LocPrf,
			MED:       rp.Metric,
			Valid:     rp.Valid,
			Multipath: rp.Multipath,
			Stale:     rp.Stale,
			Best:      rp.Bestpath != nil && rp.Bestpath.Overall,
		}
		if p.ASPath == "Local" {
			p.ASPath = ""
		}
		var err error
		if p.Peer, err = netip.ParseAddr(rp.Peer.PeerID); err != nil {
			return out, fmt.Errorf("bgp route %s: peer: %w", prefix, err)
		}
		for _, nh := range rp.Nexthops {
			if nh.Scope == "link-local" {
				continue
			}
			if p.NextHop, err = netip.ParseAddr(nh.IP); err != nil {
				return out, fmt.Errorf("bgp route %s: next hop: %w", prefix, err)
			}
			break
		}
		if rp.Community != nil {
			for _, c := range strings.Fields(rp.Community.String) {
				n, err := NormalizeCommunity(c)
				if err != nil {
					return out, fmt.Errorf("bgp route %s: %w", prefix, err)
				}
				p.Communities = append(p.Communities, n)
			}
			slices.SortFunc(p.Communities, compareCommunities)
		}
		if rp.LargeCommunity != nil {
			p.LargeCommunities = strings.Fields(rp.LargeCommunity.String)
			slices.Sort(p.LargeCommunities)
		}
		out.Paths = append(out.Paths, p)
	}
	return out, nil
}

// wellKnownCommunities are RFC 1997's and its successors' communities by
// the names FRR prints (and takes), folded by foldCommunityName.
var wellKnownCommunities = map[string]string{
	"internet":                "0:0",
	"gracefulshutdown":        "65535:0",
	"acceptown":               "65535:1",
	"routefiltertranslatedv4": "65535:2",
	"routefilterv4":           "65535:3",
	"routefiltertranslatedv6": "65535:4",
	"routefilterv6":           "65535:5",
	"llgrstale":               "65535:6",
	"nollgr":                  "65535:7",
	"acceptownnexthop":        "65535:8",
	"blackhole":               "65535:666",
	"noexport":                "65535:65281",
	"noadvertise":             "65535:65282",
	"localas":                 "65535:65283",
	"noexportsubconfed":       "65535:65283",
	"nopeer":                  "65535:65284",
}

// foldCommunityName makes "no-advertise", "noAdvertise" (FRR's JSON list)
// and "NO_ADVERTISE" one key.
func foldCommunityName(s string) string {
	return strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(s))
}

// NormalizeCommunity returns a standard community as "high:low" in
// decimal, from that form or a well-known name in FRR's spellings, so that
// FRR's output and a Herald configuration compare equal.
func NormalizeCommunity(s string) (string, error) {
	if n, ok := wellKnownCommunities[foldCommunityName(s)]; ok {
		return n, nil
	}
	hi, lo, ok := strings.Cut(s, ":")
	if ok {
		h, err1 := strconv.ParseUint(hi, 10, 16)
		l, err2 := strconv.ParseUint(lo, 10, 16)
		if err1 == nil && err2 == nil {
			return fmt.Sprintf("%d:%d", h, l), nil
		}
	}
	return "", fmt.Errorf("community %q: want high:low (16-bit decimals) or a well-known name", s)
}

// compareCommunities orders normalised communities by value.
func compareCommunities(a, b string) int {
	return communityValue(a) - communityValue(b)
}

func communityValue(s string) int {
	hi, lo, _ := strings.Cut(s, ":")
	h, _ := strconv.Atoi(hi)
	l, _ := strconv.Atoi(lo)
	return h<<16 | l
}

// frrZebraRoute is one element of `show ip route <prefix> json`.
type frrZebraRoute struct {
	Protocol  string `json:"protocol"`
	Selected  bool   `json:"selected"`
	Installed bool   `json:"installed"`
	Nexthops  []struct {
		FIB           bool   `json:"fib"`
		IP            string `json:"ip"`
		InterfaceName string `json:"interfaceName"`
	} `json:"nexthops"`
}

// Routes returns the next hops of the BGP route zebra selected and
// installed in the kernel for prefix (`show ip|ipv6 route <prefix> json`),
// sorted; none when there is none; two or more mean ECMP. For IPv6 zebra
// installs the speakers' link-local next hops; those of rig hosts are
// given as the host's LAN address, as BirdRoutes does, so that one
// expectation fits both ToRs.
func (f *FRR) Routes(ctx context.Context, prefix netip.Prefix) ([]netip.Addr, error) {
	prefix = prefix.Masked()
	cmd := "show ip route"
	if prefix.Addr().Is6() {
		cmd = "show ipv6 route"
	}
	var raw map[string][]frrZebraRoute
	if err := f.JSON(ctx, fmt.Sprintf("%s %s json", cmd, prefix), &raw); err != nil {
		return nil, err
	}
	return f.r.zebraNexthops(prefix, raw[prefix.String()])
}

func (r *Rig) zebraNexthops(prefix netip.Prefix, routes []frrZebraRoute) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, rt := range routes {
		if rt.Protocol != "bgp" || !rt.Selected || !rt.Installed {
			continue
		}
		for _, nh := range rt.Nexthops {
			if !nh.FIB {
				continue
			}
			a, err := netip.ParseAddr(nh.IP)
			if err != nil {
				return nil, fmt.Errorf("route %s: next hop: %w", prefix, err)
			}
			out = append(out, r.globalOf(a))
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}

// globalOf maps the link-local address of a rig host's eth0 (EUI-64 from
// its MAC) to its LAN IPv6 address; anything else is returned as is.
func (r *Rig) globalOf(a netip.Addr) netip.Addr {
	if !a.Is6() || !a.IsLinkLocalUnicast() {
		return a
	}
	hosts := r.Hosts()
	r.extra.mu.Lock()
	hosts = append(hosts, r.extra.hosts...)
	r.extra.mu.Unlock()
	for _, h := range hosts {
		if linkLocalOf(h.LAN.MAC) == a {
			return h.LAN.IPv6.Addr()
		}
	}
	return a
}

// linkLocalOf is the EUI-64 link-local address the kernel gives an
// interface with that MAC.
func linkLocalOf(mac net.HardwareAddr) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	b[8], b[9], b[10] = mac[0]^0x02, mac[1], mac[2]
	b[11], b[12] = 0xff, 0xfe
	b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b)
}

// FRRBFDPeer is one BFD session of FRR's bfdd.
type FRRBFDPeer struct {
	// Status is "up", "down", "init" or "shutdown".
	Status    string
	Local     netip.Addr
	Interface string
	// Uptime is how long it has been up (whole seconds).
	Uptime time.Duration
	// Diagnostic and RemoteDiagnostic say why it last went down ("ok",
	// "control detection time expired", ...).
	Diagnostic, RemoteDiagnostic string
	// The intervals in force, after negotiation.
	ReceiveInterval, TransmitInterval             time.Duration
	DetectMultiplier                              int
	RemoteReceiveInterval, RemoteTransmitInterval time.Duration
	RemoteDetectMultiplier                        int
}

type frrBFDJSON struct {
	Peer                   string `json:"peer"`
	Local                  string `json:"local"`
	Interface              string `json:"interface"`
	Status                 string `json:"status"`
	Uptime                 int64  `json:"uptime"`
	Diagnostic             string `json:"diagnostic"`
	RemoteDiagnostic       string `json:"remote-diagnostic"`
	ReceiveInterval        int64  `json:"receive-interval"`
	TransmitInterval       int64  `json:"transmit-interval"`
	DetectMultiplier       int    `json:"detect-multiplier"`
	RemoteReceiveInterval  int64  `json:"remote-receive-interval"`
	RemoteTransmitInterval int64  `json:"remote-transmit-interval"`
	RemoteDetectMultiplier int    `json:"remote-detect-multiplier"`
}

// BFDPeers returns bfdd's sessions by peer address (`show bfd peers
// json`); empty, not an error, when there are none (BFD off).
func (f *FRR) BFDPeers(ctx context.Context) (map[netip.Addr]FRRBFDPeer, error) {
	var raw []frrBFDJSON
	if err := f.JSON(ctx, "show bfd peers json", &raw); err != nil {
		return nil, err
	}
	return parseFRRBFD(raw)
}

func parseFRRBFD(raw []frrBFDJSON) (map[netip.Addr]FRRBFDPeer, error) {
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	out := map[netip.Addr]FRRBFDPeer{}
	for _, p := range raw {
		peer, err := netip.ParseAddr(p.Peer)
		if err != nil {
			return nil, fmt.Errorf("bfd peer %q: %w", p.Peer, err)
		}
		local, _ := netip.ParseAddr(p.Local) // absent for some multihop sessions
		out[peer] = FRRBFDPeer{
			Status: p.Status, Local: local, Interface: p.Interface,
			Uptime:     time.Duration(p.Uptime) * time.Second,
			Diagnostic: p.Diagnostic, RemoteDiagnostic: p.RemoteDiagnostic,
			ReceiveInterval: ms(p.ReceiveInterval), TransmitInterval: ms(p.TransmitInterval),
			DetectMultiplier:      p.DetectMultiplier,
			RemoteReceiveInterval: ms(p.RemoteReceiveInterval), RemoteTransmitInterval: ms(p.RemoteTransmitInterval),
			RemoteDetectMultiplier: p.RemoteDetectMultiplier,
		}
	}
	return out, nil
}

// FRRNeighbor is one BGP session of FRR's.
type FRRNeighbor struct {
	// State is "Established", "Active", "Idle", ...
	State    string
	RemoteAS uint32
	// PeerGroup is nodes4 or nodes6; Dynamic is true for sessions from a
	// listen range (all of them with StartFRR's configuration). FRR
	// deletes a dynamic neighbour when its session ends.
	PeerGroup string
	Dynamic   bool
	// Uptime is how long the session has been established; EstablishedAt
	// when. FRR counts whole seconds and derives EstablishedAt from the
	// clock at the time of asking, so it jitters by a second between two
	// samples: compare with SameSession.
	Uptime        time.Duration
	EstablishedAt time.Time
	// ConnectionsEstablished and ConnectionsDropped count this neighbour's
	// sessions.
	ConnectionsEstablished, ConnectionsDropped int
	// BFDStatus is what bgpd knows of the BFD session ("Up", "Down"), ""
	// without BFD.
	BFDStatus string
	// LastResetReason is FRR's reason for the last reset.
	LastResetReason string
}

// SameSession reports whether n is still the session before was: both
// established, the establishment times within FRR's one-second
// resolution, and no connection dropped or made in between. A reset moves
// EstablishedAt by at least the time to reconnect (gobgp: 5 s or more,
// caveat C10), also when FRR deleted the dynamic neighbour and its
// counters started over.
func (n FRRNeighbor) SameSession(before FRRNeighbor) bool {
	d := n.EstablishedAt.Sub(before.EstablishedAt)
	return n.State == "Established" && before.State == "Established" &&
		d >= -time.Second && d <= time.Second &&
		n.ConnectionsEstablished == before.ConnectionsEstablished &&
		n.ConnectionsDropped == before.ConnectionsDropped
}

type frrNeighborJSON struct {
	BGPState               string `json:"bgpState"`
	RemoteAS               uint32 `json:"remoteAs"`
	PeerGroup              string `json:"peerGroup"`
	PeerSubnetRangeGroup   string `json:"peerSubnetRangeGroup"`
	UpMsec                 int64  `json:"bgpTimerUpMsec"`
	UpEstablishedEpoch     int64  `json:"bgpTimerUpEstablishedEpoch"`
	ConnectionsEstablished int    `json:"connectionsEstablished"`
	ConnectionsDropped     int    `json:"connectionsDropped"`
	LastResetDueTo         string `json:"lastResetDueTo"`
	PeerBfdInfo            *struct {
		Status string `json:"status"`
	} `json:"peerBfdInfo"`
}

// Neighbors returns FRR's BGP sessions by speaker address (`show bgp
// neighbors json`).
func (f *FRR) Neighbors(ctx context.Context) (map[netip.Addr]FRRNeighbor, error) {
	var raw map[string]json.RawMessage
	if err := f.JSON(ctx, "show bgp neighbors json", &raw); err != nil {
		return nil, err
	}
	return parseFRRNeighbors(raw)
}

func parseFRRNeighbors(raw map[string]json.RawMessage) (map[netip.Addr]FRRNeighbor, error) {
	out := map[netip.Addr]FRRNeighbor{}
	for key, msg := range raw {
		addr, err := netip.ParseAddr(strings.TrimPrefix(key, "*"))
		if err != nil {
			continue // not a neighbour (FRR adds no other keys today)
		}
		var n frrNeighborJSON
		if err := json.Unmarshal(msg, &n); err != nil {
			return nil, fmt.Errorf("bgp neighbor %s: %w", key, err)
		}
		nb := FRRNeighbor{
			State: n.BGPState, RemoteAS: n.RemoteAS, PeerGroup: n.PeerGroup,
			Dynamic:                n.PeerSubnetRangeGroup != "",
			ConnectionsEstablished: n.ConnectionsEstablished, ConnectionsDropped: n.ConnectionsDropped,
			LastResetReason: n.LastResetDueTo,
		}
		if n.BGPState == "Established" {
			nb.Uptime = time.Duration(n.UpMsec) * time.Millisecond
			nb.EstablishedAt = time.Unix(n.UpEstablishedEpoch, 0)
		}
		if n.PeerBfdInfo != nil {
			nb.BFDStatus = n.PeerBfdInfo.Status
		}
		out[addr] = nb
	}
	return out, nil
}

// Established returns the addresses of the speakers whose sessions are up,
// sorted.
func (f *FRR) Established(ctx context.Context) ([]netip.Addr, error) {
	nbs, err := f.Neighbors(ctx)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for a, n := range nbs {
		if n.State == "Established" {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}
