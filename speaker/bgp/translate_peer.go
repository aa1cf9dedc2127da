package bgp

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
)

// largestHoldTime stands in for an explicit hold time of 0. GoBGP cannot
// propose 0 (its API turns 0 into 90 s), but a hold time is negotiated down
// to the smaller of the two proposals, so proposing the largest one lets a
// router that proposes 0 get a session without keepalives, as asked.
const largestHoldTime = math.MaxUint16

// translatePeer reads one BgpPeer. ok is false when the peer cannot run at
// all; problems say why, and name every field that is not honoured (the
// list is in Translate's comment).
func translatePeer(bp *v1alpha2.BgpPeer, grDefault *v1alpha2.GracefulRestart, globalAS uint32, password PasswordFunc) (Peer, []string, bool) {
	if _, errs := bgpconfig.ValidatePeer(bp); len(errs) > 0 {
		problems := make([]string, 0, len(errs)+1)
		for _, e := range errs {
			problems = append(problems, e.Error())
		}
		return Peer{}, append(problems, "the peer is not started until these are fixed"), false
	}
	s := &bp.Spec
	c := s.Conf
	p := Peer{
		Name:        bp.Name,
		Description: c.Description,
		Address:     netip.MustParseAddr(c.NeighborAddress), // ValidatePeer checked it.
		PeerAS:      uint32(c.PeerAs),
		LocalAS:     uint32(c.LocalAs),
		AdminDown:   c.AdminDown,
		Labels:      bp.Labels,
	}
	var problems []string
	ignored := func(field, why string) {
		problems = append(problems, fmt.Sprintf("%s: %s; ignored", field, why))
	}

	switch {
	case c.AuthPasswordSecretRef != nil:
		ref := *c.AuthPasswordSecretRef
		if ref.Key == "" {
			ref.Key = defaultPasswordKey
		}
		pw, err := password(ref)
		if err != nil {
			secret := ref.Name // no namespace: Herald's, which err names
			if ref.Namespace != "" {
				secret = ref.Namespace + "/" + ref.Name
			}
			return Peer{}, append(problems, fmt.Sprintf(
				"spec.conf.authPasswordSecretRef: key %q of Secret %s: %v; the peer is not started without its password",
				ref.Key, secret, err)), false
		}
		p.Password = pw
	default:
		p.Password = c.AuthPassword
	}

	localAS := p.LocalAS
	if localAS == 0 {
		localAS = globalAS
	}
	ibgp := localAS == p.PeerAS

	if c.PeerGroup != "" {
		ignored("spec.conf.peerGroup", "Herald defines no GoBGP peer groups")
	}
	switch {
	case c.PeerType > peerTypeExternal:
		ignored("spec.conf.peerType", fmt.Sprintf("%d is neither internal (0) nor external (1), and GoBGP derives the type from the AS numbers", c.PeerType))
	case c.PeerType == peerTypeExternal && ibgp:
		ignored("spec.conf.peerType", fmt.Sprintf("external (1) contradicts the AS numbers (local and peer AS are both %d); GoBGP runs the session as iBGP", localAS))
	}
	rp, problem := removePrivateAS(c.RemovePrivateAs, ibgp)
	if problem != "" {
		problems = append(problems, problem)
	}
	p.RemovePrivateAS = rp
	if c.RouteFlapDamping {
		ignored("spec.conf.routeFlapDamping", "GoBGP does not implement route flap damping, and speakers accept no routes anyway")
	}
	if c.SendCommunity != 0 {
		ignored("spec.conf.sendCommunity", "GoBGP v3 has no such setting; communities are always sent")
	}
	if c.NeighborInterface != "" {
		ignored("spec.conf.neighborInterface", fmt.Sprintf("unnumbered sessions over an interface are not supported; the session goes to neighborAddress %s", p.Address))
	}
	if c.Vrf != "" {
		ignored("spec.conf.vrf", fmt.Sprintf("Herald defines no VRFs, so the session runs in the global table instead of VRF %q", c.Vrf))
	}
	if c.AllowOwnAs > math.MaxUint8 {
		ignored("spec.conf.allowOwnAs", fmt.Sprintf("%d is above 255", c.AllowOwnAs))
	} else {
		p.AllowOwnAS = uint8(c.AllowOwnAs)
	}
	if c.ReplacePeerAs {
		if ibgp {
			ignored("spec.conf.replacePeerAs", "it applies to eBGP sessions only")
		} else {
			p.ReplacePeerAS = true
		}
	}

	problems = append(problems, p.readMultihop(s.EbgpMultihop, ibgp)...)
	problems = append(problems, p.readTimers(s.Timers)...)
	problems = append(problems, p.readTransport(s.Transport)...)

	gr := grDefault
	if s.GracefulRestart != nil {
		gr = s.GracefulRestart
		problems = append(problems, grProblems("spec.gracefulRestart", gr)...)
	}
	if gr != nil {
		// A speaker that starts with graceful restart enabled is always
		// restarting as far as the router can tell: it may hold this
		// node's stale routes from the previous process, and the data
		// path (kube-proxy's rules) survived the restart. So the OPEN
		// carries the Restart State and Forwarding State bits whether or
		// not spec.gracefulRestart.localRestarting says so; without them
		// BIRD and FRR flush the stale routes the moment the new session
		// comes up, and the restart flaps every route (seen in the e2e
		// suite). GoBGP clears the state once the first End-of-RIB
		// exchange is done. helperOnly speakers never restart gracefully.
		restarting := gr.LocalRestarting || (gr.Enabled && !gr.HelperOnly)
		p.GracefulRestart = GracefulRestart{
			Enabled:             gr.Enabled,
			RestartTime:         gr.RestartTime,
			HelperOnly:          gr.HelperOnly,
			DeferralTime:        gr.DeferralTime,
			NotificationEnabled: gr.NotificationEnabled,
			LocalRestarting:     restarting,
		}
	}
	problems = append(problems, p.readFamilies(s.AfiSafis)...)
	return p, problems, true
}

// GoBGP's PeerType enumeration, which OpenELB's conf.peerType carries.
const peerTypeExternal = 1

// removePrivateAS reads conf.removePrivateAs, which carries GoBGP's enum
// names (REMOVE_NONE, REMOVE_ALL, REPLACE).
func removePrivateAS(v string, ibgp bool) (RemovePrivateAS, string) {
	var mode RemovePrivateAS
	switch strings.ToUpper(v) {
	case "", "REMOVE_NONE":
		return RemovePrivateNone, ""
	case "REMOVE_ALL":
		mode = RemovePrivateAll
	case "REPLACE":
		mode = RemovePrivateReplace
	default:
		return RemovePrivateNone, fmt.Sprintf("spec.conf.removePrivateAs: %q is not REMOVE_NONE, REMOVE_ALL or REPLACE; ignored", v)
	}
	if ibgp {
		return RemovePrivateNone, "spec.conf.removePrivateAs: it applies to eBGP sessions only; ignored"
	}
	return mode, ""
}

func (p *Peer) readMultihop(m *v1alpha2.EbgpMultihop, ibgp bool) []string {
	if m == nil || (!m.Enabled && m.MultihopTtl == 0) {
		return nil
	}
	switch {
	case ibgp:
		return []string{"spec.ebgpMultihop: it applies to eBGP sessions only; ignored"}
	case !m.Enabled:
		return []string{"spec.ebgpMultihop.multihopTtl: ignored while ebgpMultihop.enabled is false"}
	}
	p.Multihop = Multihop{Enabled: true, TTL: uint8(m.MultihopTtl)} // ValidatePeer capped it at 255.
	return nil
}

func (p *Peer) readTimers(t *v1alpha2.Timers) []string {
	p.Timers.ConnectRetry = DefaultConnectRetry
	if t == nil {
		return nil
	}
	parsed, err := bgpconfig.ParseTimers(t.Config)
	if err != nil { // ValidatePeer checked them; this cannot happen.
		return []string{fmt.Sprintf("spec.timers: %v; GoBGP's defaults apply", err)}
	}
	var problems []string
	if v := parsed.ConnectRetry; v != nil && *v != 0 {
		p.Timers.ConnectRetry = *v
	}
	if v := parsed.HoldTime; v != nil {
		if *v == 0 {
			p.Timers.HoldTime = largestHoldTime
			problems = append(problems, fmt.Sprintf(
				"spec.timers.config.holdTime: GoBGP cannot propose 0 (no keepalives); it proposes %d s instead, so the session runs without keepalives only if the router proposes 0",
				largestHoldTime))
		} else {
			p.Timers.HoldTime = *v
		}
	}
	if v := parsed.KeepaliveInterval; v != nil {
		if *v == 0 && p.Timers.HoldTime != largestHoldTime {
			problems = append(problems,
				"spec.timers.config.keepaliveInterval: 0 would send no keepalives while a hold time runs; GoBGP sends them every third of the hold time instead")
		}
		p.Timers.Keepalive = *v
	}
	if v := parsed.MinimumAdvertisementInterval; v != nil && *v != 0 {
		problems = append(problems,
			"spec.timers.config.minimumAdvertisementInterval: GoBGP sends updates at once and has no such timer; ignored")
	}
	return problems
}

func (p *Peer) readTransport(t *v1alpha2.Transport) []string {
	if t == nil {
		return nil
	}
	var problems []string
	p.Passive = t.PassiveMode
	p.RemotePort = uint16(t.RemotePort) // ValidatePeer capped it at 65535.
	if t.TcpMss > math.MaxUint16 {
		problems = append(problems, fmt.Sprintf("spec.transport.tcpMss: %d is above 65535; ignored", t.TcpMss))
	} else {
		p.TCPMSS = uint16(t.TcpMss)
	}
	if t.MtuDiscovery {
		problems = append(problems, "spec.transport.mtuDiscovery: GoBGP has no such setting; the kernel's path MTU discovery applies; ignored")
	}
	if t.RemoteAddress != "" {
		if a, err := netip.ParseAddr(t.RemoteAddress); err != nil || a != p.Address {
			problems = append(problems, fmt.Sprintf(
				"spec.transport.remoteAddress: %q differs from conf.neighborAddress %s, which is where the session goes; ignored", t.RemoteAddress, p.Address))
		}
	}
	return problems
}

// readFamilies reads afiSafis. A peer that lists none carries the family of
// its neighbour address, as GoBGP does by default; Herald lists it
// explicitly so that graceful restart covers it.
func (p *Peer) readFamilies(list []v1alpha2.AfiSafi) []string {
	grFamilies := p.GracefulRestart.Enabled && !p.GracefulRestart.HelperOnly
	if len(list) == 0 {
		f := IPv4Unicast
		if !p.Address.Unmap().Is4() {
			f = IPv6Unicast
		}
		p.Families = []AfiSafi{{Family: f, GracefulRestart: grFamilies}}
		return nil
	}
	var problems []string
	anyGR := false
	for i, a := range list {
		path := fmt.Sprintf("spec.afiSafis[%d]", i)
		f := IPv4Unicast // ValidatePeer allows AFI_IP and AFI_IP6 with SAFI_UNICAST only.
		if a.Config.Family.Afi == bgpconfig.AfiIP6 {
			f = IPv6Unicast
		}
		if slices.ContainsFunc(p.Families, func(x AfiSafi) bool { return x.Family == f }) {
			problems = append(problems, fmt.Sprintf("%s: family %s is listed twice; this entry is ignored", path, f))
			continue
		}
		if !a.Config.Enabled {
			problems = append(problems, fmt.Sprintf(
				"%s.config.enabled: false is ignored, as under OpenELB: GoBGP enables every listed family; remove the entry to leave %s out", path, f))
		}
		af := AfiSafi{Family: f}
		if m := a.MpGracefulRestart; m != nil && m.Config != nil && m.Config.Enabled {
			if p.GracefulRestart.Enabled {
				af.GracefulRestart = true
				anyGR = true
			} else {
				problems = append(problems, path+".mpGracefulRestart: ignored while gracefulRestart.enabled is false")
			}
		}
		if ap := a.AddPaths; ap != nil && ap.Config != nil {
			af.AddPathsReceive = ap.Config.Receive
			if ap.Config.SendMax > math.MaxUint8 {
				problems = append(problems, fmt.Sprintf("%s.addPaths.config.sendMax: %d is above 255; ignored", path, ap.Config.SendMax))
			} else {
				af.AddPathsSendMax = uint8(ap.Config.SendMax)
			}
		}
		p.Families = append(p.Families, af)
	}
	if grFamilies && !anyGR {
		problems = append(problems,
			"spec.afiSafis: graceful restart is enabled but no family sets mpGracefulRestart.config.enabled, so the router will not keep this node's routes while the speaker restarts")
	}
	return problems
}
