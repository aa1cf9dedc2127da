package bgp

import (
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/types/known/anypb"
)

// This file is the only place that knows GoBGP's API structures: it turns
// Config and Path into the requests the Router sends.

// apiGlobal is the StartBgp request's global configuration.
func apiGlobal(g Global) *api.Global {
	out := &api.Global{
		Asn:              g.AS,
		RouterId:         g.RouterID.String(),
		ListenPort:       g.ListenPort,
		UseMultiplePaths: g.UseMultiplePaths,
	}
	for _, a := range g.ListenAddresses {
		out.ListenAddresses = append(out.ListenAddresses, a.String())
	}
	for _, f := range g.Families {
		out.Families = append(out.Families, familyIndex[f])
	}
	return out
}

// familyIndex is GoBGP's enumeration of families in api.Global.Families.
var familyIndex = map[Family]uint32{
	IPv4Unicast: familyIndexIPv4Unicast,
	IPv6Unicast: familyIndexIPv6Unicast,
}

// apiFamily is a family as GoBGP's AFI and SAFI.
func apiFamily(f Family) *api.Family {
	if f == IPv6Unicast {
		return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
}

// apiPeer is the AddPeer/UpdatePeer request's peer. Description stays out
// (see Peer.Description), and so does Name, which GoBGP has no field for.
func apiPeer(p Peer) *api.Peer {
	out := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.String(),
			PeerAsn:         p.PeerAS,
			LocalAsn:        p.LocalAS,
			AuthPassword:    p.Password,
			AdminDown:       p.AdminDown,
			AllowOwnAsn:     uint32(p.AllowOwnAS),
			ReplacePeerAsn:  p.ReplacePeerAS,
			RemovePrivate:   apiRemovePrivate[p.RemovePrivateAS],
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      uint64(p.Timers.ConnectRetry),
			HoldTime:          uint64(p.Timers.HoldTime),
			KeepaliveInterval: uint64(p.Timers.Keepalive),
			// After ResetPeer (BFD down), see reset.go.
			IdleHoldTimeAfterReset: idleHoldAfterReset,
		}},
		Transport: &api.Transport{
			PassiveMode: p.Passive,
			RemotePort:  uint32(p.RemotePort),
			TcpMss:      uint32(p.TCPMSS),
		},
		EbgpMultihop: &api.EbgpMultihop{
			Enabled:     p.Multihop.Enabled,
			MultihopTtl: uint32(p.Multihop.TTL),
		},
		GracefulRestart: &api.GracefulRestart{
			Enabled:             p.GracefulRestart.Enabled,
			RestartTime:         p.GracefulRestart.RestartTime,
			HelperOnly:          p.GracefulRestart.HelperOnly,
			DeferralTime:        p.GracefulRestart.DeferralTime,
			NotificationEnabled: p.GracefulRestart.NotificationEnabled,
			LocalRestarting:     p.GracefulRestart.LocalRestarting,
		},
	}
	if p.LocalAddress.IsValid() {
		out.Transport.LocalAddress = p.LocalAddress.String()
	}
	for _, a := range p.Families {
		out.AfiSafis = append(out.AfiSafis, &api.AfiSafi{
			Config:            &api.AfiSafiConfig{Family: apiFamily(a.Family), Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: a.GracefulRestart}},
			AddPaths: &api.AddPaths{Config: &api.AddPathsConfig{
				Receive: a.AddPathsReceive,
				SendMax: uint32(a.AddPathsSendMax),
			}},
		})
	}
	return out
}

var apiRemovePrivate = map[RemovePrivateAS]api.RemovePrivate{
	RemovePrivateNone:    api.RemovePrivate_REMOVE_NONE,
	RemovePrivateAll:     api.RemovePrivate_REMOVE_ALL,
	RemovePrivateReplace: api.RemovePrivate_REPLACE,
}

// apiPath is the AddPath/DeletePath request's path: origin IGP and the
// next hop, the unspecified address when Path.NextHop is unset. GoBGP
// replaces an unspecified next hop of a locally originated path with the
// session's local address towards each peer, eBGP and iBGP alike
// (table.UpdatePathAttrs in v3.37.0), and leaves a set one alone.
func apiPath(p Path) (*api.Path, error) {
	prefix := p.Prefix.Masked()
	nlri, err := anypb.New(&api.IPAddressPrefix{
		Prefix:    prefix.Addr().String(),
		PrefixLen: uint32(prefix.Bits()),
	})
	if err != nil {
		return nil, fmt.Errorf("path %s: encode prefix: %w", p.Prefix, err)
	}
	origin, err := anypb.New(&api.OriginAttribute{Origin: 0})
	if err != nil {
		return nil, fmt.Errorf("path %s: encode origin: %w", p.Prefix, err)
	}
	v4 := prefix.Addr().Is4()
	nextHop := p.NextHop
	if !nextHop.IsValid() {
		nextHop = netip.IPv6Unspecified()
		if v4 {
			nextHop = netip.IPv4Unspecified()
		}
	}
	family := IPv6Unicast
	var nh *anypb.Any
	if v4 && nextHop.Is4() {
		family = IPv4Unicast
		nh, err = anypb.New(&api.NextHopAttribute{NextHop: nextHop.String()})
	} else {
		if v4 {
			family = IPv4Unicast
		}
		nh, err = anypb.New(&api.MpReachNLRIAttribute{
			Family:   apiFamily(family),
			NextHops: []string{nextHop.String()},
			Nlris:    []*anypb.Any{nlri},
		})
	}
	if err != nil {
		return nil, fmt.Errorf("path %s: encode next hop: %w", p.Prefix, err)
	}
	pattrs := []*anypb.Any{origin, nh}
	extra, err := apiAttrs(p.Attrs)
	if err != nil {
		return nil, fmt.Errorf("path %s: %w", p.Prefix, err)
	}
	return &api.Path{
		Family: apiFamily(family),
		Nlri:   nlri,
		Pattrs: append(pattrs, extra...),
	}, nil
}

// apiAttrs are the attributes of Attrs carried on the path itself, so that
// a change of them is one UPDATE: GoBGP replaces a local path when the same
// prefix is added again, and sends the new attributes to every peer. GoBGP
// drops LOCAL_PREF towards eBGP peers.
func apiAttrs(a Attrs) ([]*anypb.Any, error) {
	var out []*anypb.Any
	if a.LocalPref != 0 {
		lp, err := anypb.New(&api.LocalPrefAttribute{LocalPref: a.LocalPref})
		if err != nil {
			return nil, fmt.Errorf("encode local preference: %w", err)
		}
		out = append(out, lp)
	}
	if len(a.Communities) > 0 {
		c, err := anypb.New(&api.CommunitiesAttribute{Communities: a.Communities})
		if err != nil {
			return nil, fmt.Errorf("encode communities: %w", err)
		}
		out = append(out, c)
	}
	if len(a.LargeCommunities) > 0 {
		lc := &api.LargeCommunitiesAttribute{}
		for _, c := range a.LargeCommunities {
			lc.Communities = append(lc.Communities, &api.LargeCommunity{GlobalAdmin: c.Global, LocalData1: c.Local1, LocalData2: c.Local2})
		}
		l, err := anypb.New(lc)
		if err != nil {
			return nil, fmt.Errorf("encode large communities: %w", err)
		}
		out = append(out, l)
	}
	return out, nil
}
