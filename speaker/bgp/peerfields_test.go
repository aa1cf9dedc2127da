package bgp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/testing/protocmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// basePeerAPI is what testPeer("tor", "10.0.0.1") becomes in GoBGP.
func basePeerAPI() *api.Peer {
	return &api.Peer{
		Conf:            &api.PeerConf{NeighborAddress: "10.0.0.1", PeerAsn: 65000},
		Timers:          &api.Timers{Config: &api.TimersConfig{ConnectRetry: DefaultConnectRetry, IdleHoldTimeAfterReset: idleHoldAfterReset}},
		Transport:       &api.Transport{},
		EbgpMultihop:    &api.EbgpMultihop{},
		GracefulRestart: &api.GracefulRestart{},
		AfiSafis:        []*api.AfiSafi{apiAfiSafi(api.Family_AFI_IP, false, false, 0)},
	}
}

func apiAfiSafi(afi api.Family_Afi, gr, receive bool, sendMax uint32) *api.AfiSafi {
	return &api.AfiSafi{
		Config:            &api.AfiSafiConfig{Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}, Enabled: true},
		MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: gr}},
		AddPaths:          &api.AddPaths{Config: &api.AddPathsConfig{Receive: receive, SendMax: sendMax}},
	}
}

func seconds(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }

// TestPeerFieldsToGoBGP maps each BgpPeer field to the GoBGP setting it
// produces, or to the problem that reports it.
func TestPeerFieldsToGoBGP(t *testing.T) {
	tests := []struct {
		name         string
		conf         func(*v1alpha2.BgpConfSpec)
		peer         func(*v1alpha2.BgpPeerSpec)
		want         func(*api.Peer)
		wantProblems []string
	}{{
		name: "minimal peer",
		peer: func(*v1alpha2.BgpPeerSpec) {},
		want: func(*api.Peer) {},
	}, {
		name: "conf.neighborAddress IPv6: neighbour and its family",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.NeighborAddress = "fd00::1" },
		want: func(p *api.Peer) {
			p.Conf.NeighborAddress = "fd00::1"
			p.AfiSafis = []*api.AfiSafi{apiAfiSafi(api.Family_AFI_IP6, false, false, 0)}
		},
	}, {
		name: "conf.peerAs",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.PeerAs = 4200000000 },
		want: func(p *api.Peer) { p.Conf.PeerAsn = 4200000000 },
	}, {
		name: "conf.localAs",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.LocalAs = 64999 },
		want: func(p *api.Peer) { p.Conf.LocalAsn = 64999 },
	}, {
		name: "conf.authPassword",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.AuthPassword = "md5" },
		want: func(p *api.Peer) { p.Conf.AuthPassword = "md5" },
	}, {
		name: "conf.description stays with Herald",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.Description = "rack 1 ToR" },
		want: func(*api.Peer) {},
	}, {
		name: "conf.adminDown",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.AdminDown = true },
		want: func(p *api.Peer) { p.Conf.AdminDown = true },
	}, {
		name: "conf.allowOwnAs",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.AllowOwnAs = 2 },
		want: func(p *api.Peer) { p.Conf.AllowOwnAsn = 2 },
	}, {
		name:         "conf.allowOwnAs above 255",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.AllowOwnAs = 300 },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.conf.allowOwnAs"},
	}, {
		name: "conf.replacePeerAs on eBGP",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.ReplacePeerAs = true },
		want: func(p *api.Peer) { p.Conf.ReplacePeerAsn = true },
	}, {
		name:         "conf.replacePeerAs on iBGP",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.ReplacePeerAs = true; s.Conf.PeerAs = 65001 },
		want:         func(p *api.Peer) { p.Conf.PeerAsn = 65001 },
		wantProblems: []string{"spec.conf.replacePeerAs"},
	}, {
		name: "conf.removePrivateAs REMOVE_ALL",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.RemovePrivateAs = "REMOVE_ALL" },
		want: func(p *api.Peer) { p.Conf.RemovePrivate = api.RemovePrivate_REMOVE_ALL },
	}, {
		name: "conf.removePrivateAs replace, any case",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.RemovePrivateAs = "replace" },
		want: func(p *api.Peer) { p.Conf.RemovePrivate = api.RemovePrivate_REPLACE },
	}, {
		name:         "conf.removePrivateAs unknown",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.RemovePrivateAs = "STRIP" },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.conf.removePrivateAs"},
	}, {
		name:         "conf.removePrivateAs on iBGP (local AS from localAs)",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.RemovePrivateAs = "REMOVE_ALL"; s.Conf.LocalAs = 65000 },
		want:         func(p *api.Peer) { p.Conf.LocalAsn = 65000 },
		wantProblems: []string{"spec.conf.removePrivateAs"},
	}, {
		name:         "conf.peerGroup",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.PeerGroup = "tors" },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.conf.peerGroup"},
	}, {
		name: "conf.peerType external on eBGP agrees",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Conf.PeerType = 1 },
		want: func(*api.Peer) {},
	}, {
		name:         "conf.peerType external on iBGP",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.PeerType = 1; s.Conf.PeerAs = 65001 },
		want:         func(p *api.Peer) { p.Conf.PeerAsn = 65001 },
		wantProblems: []string{"spec.conf.peerType"},
	}, {
		name:         "conf.peerType unknown",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.PeerType = 7 },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.conf.peerType"},
	}, {
		name:         "conf.routeFlapDamping",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.RouteFlapDamping = true },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.conf.routeFlapDamping"},
	}, {
		name:         "conf.sendCommunity",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.SendCommunity = 3 },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.conf.sendCommunity"},
	}, {
		name:         "conf.neighborInterface",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.NeighborInterface = "eth0" },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.conf.neighborInterface"},
	}, {
		name:         "conf.vrf",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Conf.Vrf = "blue" },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.conf.vrf"},
	}, {
		name: "ebgpMultihop",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.EbgpMultihop = &v1alpha2.EbgpMultihop{Enabled: true, MultihopTtl: 3} },
		want: func(p *api.Peer) { p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: 3} },
	}, {
		name: "ebgpMultihop without TTL: GoBGP's 255",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.EbgpMultihop = &v1alpha2.EbgpMultihop{Enabled: true} },
		want: func(p *api.Peer) { p.EbgpMultihop = &api.EbgpMultihop{Enabled: true} },
	}, {
		name:         "ebgpMultihop TTL while disabled",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.EbgpMultihop = &v1alpha2.EbgpMultihop{MultihopTtl: 3} },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.ebgpMultihop.multihopTtl"},
	}, {
		name: "ebgpMultihop on iBGP",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.Conf.PeerAs = 65001
			s.EbgpMultihop = &v1alpha2.EbgpMultihop{Enabled: true, MultihopTtl: 3}
		},
		want:         func(p *api.Peer) { p.Conf.PeerAsn = 65001 },
		wantProblems: []string{"spec.ebgpMultihop"},
	}, {
		name: "timers as numbers",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.Timers = &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{ConnectRetry: seconds(2), HoldTime: seconds(9), KeepaliveInterval: seconds(3)}}
		},
		want: func(p *api.Peer) {
			p.Timers.Config = &api.TimersConfig{ConnectRetry: 2, HoldTime: 9, KeepaliveInterval: 3, IdleHoldTimeAfterReset: idleHoldAfterReset}
		},
	}, {
		name: "timers as OpenELB's strings",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			hold, ka := intstr.FromString("90"), intstr.FromString("30")
			s.Timers = &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{HoldTime: &hold, KeepaliveInterval: &ka}}
		},
		want: func(p *api.Peer) { p.Timers.Config.HoldTime, p.Timers.Config.KeepaliveInterval = 90, 30 },
	}, {
		name: "connectRetry 0 means Herald's default",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.Timers = &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{ConnectRetry: seconds(0)}}
		},
		want: func(*api.Peer) {},
	}, {
		name: "holdTime 0 proposes the largest hold time",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.Timers = &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{HoldTime: seconds(0)}}
		},
		want:         func(p *api.Peer) { p.Timers.Config.HoldTime = 65535 },
		wantProblems: []string{"spec.timers.config.holdTime"},
	}, {
		name: "keepaliveInterval 0 under a hold time",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.Timers = &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{HoldTime: seconds(30), KeepaliveInterval: seconds(0)}}
		},
		want:         func(p *api.Peer) { p.Timers.Config.HoldTime = 30 },
		wantProblems: []string{"spec.timers.config.keepaliveInterval"},
	}, {
		name: "minimumAdvertisementInterval",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.Timers = &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{MinimumAdvertisementInterval: seconds(30)}}
		},
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.timers.config.minimumAdvertisementInterval"},
	}, {
		name: "transport.passiveMode, remotePort, tcpMss",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.Transport = &v1alpha2.Transport{PassiveMode: true, RemotePort: 17900, TcpMss: 1400}
		},
		want: func(p *api.Peer) { p.Transport = &api.Transport{PassiveMode: true, RemotePort: 17900, TcpMss: 1400} },
	}, {
		name:         "transport.mtuDiscovery",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Transport = &v1alpha2.Transport{MtuDiscovery: true} },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.transport.mtuDiscovery"},
	}, {
		name: "transport.remoteAddress equal to the neighbour",
		peer: func(s *v1alpha2.BgpPeerSpec) { s.Transport = &v1alpha2.Transport{RemoteAddress: "10.0.0.1"} },
		want: func(*api.Peer) {},
	}, {
		name:         "transport.remoteAddress elsewhere",
		peer:         func(s *v1alpha2.BgpPeerSpec) { s.Transport = &v1alpha2.Transport{RemoteAddress: "10.0.0.9"} },
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.transport.remoteAddress"},
	}, {
		name: "gracefulRestart without families: the neighbour's family restarts gracefully",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true, RestartTime: 120, DeferralTime: 30,
				NotificationEnabled: true, LocalRestarting: true}
		},
		want: func(p *api.Peer) {
			p.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: 120, DeferralTime: 30,
				NotificationEnabled: true, LocalRestarting: true}
			p.AfiSafis = []*api.AfiSafi{apiAfiSafi(api.Family_AFI_IP, true, false, 0)}
		},
	}, {
		name: "gracefulRestart helperOnly",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true, HelperOnly: true}
		},
		want: func(p *api.Peer) { p.GracefulRestart = &api.GracefulRestart{Enabled: true, HelperOnly: true} },
	}, {
		name: "gracefulRestart inherited from BgpConf",
		conf: func(s *v1alpha2.BgpConfSpec) {
			s.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true, RestartTime: 60, LonglivedEnabled: true}
		},
		peer: func(*v1alpha2.BgpPeerSpec) {},
		want: func(p *api.Peer) {
			p.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: 60, LocalRestarting: true}
			p.AfiSafis = []*api.AfiSafi{apiAfiSafi(api.Family_AFI_IP, true, false, 0)}
		},
	}, {
		name: "the peer's gracefulRestart overrides BgpConf's",
		conf: func(s *v1alpha2.BgpConfSpec) { s.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true} },
		peer: func(s *v1alpha2.BgpPeerSpec) { s.GracefulRestart = &v1alpha2.GracefulRestart{} },
		want: func(*api.Peer) {},
	}, {
		name: "gracefulRestart state fields",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.GracefulRestart = &v1alpha2.GracefulRestart{LonglivedEnabled: true, StaleRoutesTime: 1,
				PeerRestartTime: 1, PeerRestarting: true, Mode: "x"}
		},
		want: func(*api.Peer) {},
		wantProblems: []string{"spec.gracefulRestart.longlivedEnabled", "spec.gracefulRestart.staleRoutesTime",
			"spec.gracefulRestart.peerRestartTime", "spec.gracefulRestart.peerRestarting", "spec.gracefulRestart.mode"},
	}, {
		name: "afiSafis: both families, add-paths, per-family graceful restart",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true}
			s.AfiSafis = []v1alpha2.AfiSafi{
				afiSafi("AFI_IP", true, true, &v1alpha2.AddPathsConfig{Receive: true, SendMax: 8}),
				afiSafi("AFI_IP6", true, false, nil),
			}
		},
		want: func(p *api.Peer) {
			p.GracefulRestart = &api.GracefulRestart{Enabled: true, LocalRestarting: true}
			p.AfiSafis = []*api.AfiSafi{apiAfiSafi(api.Family_AFI_IP, true, true, 8), apiAfiSafi(api.Family_AFI_IP6, false, false, 0)}
		},
	}, {
		name: "afiSafis enabled false is ignored, as under OpenELB",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.AfiSafis = []v1alpha2.AfiSafi{afiSafi("AFI_IP6", false, false, nil)}
		},
		want:         func(p *api.Peer) { p.AfiSafis = []*api.AfiSafi{apiAfiSafi(api.Family_AFI_IP6, false, false, 0)} },
		wantProblems: []string{"spec.afiSafis[0].config.enabled"},
	}, {
		name: "afiSafis listed twice, sendMax above 255",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.AfiSafis = []v1alpha2.AfiSafi{
				afiSafi("AFI_IP", true, false, &v1alpha2.AddPathsConfig{SendMax: 300}),
				afiSafi("AFI_IP", true, false, nil),
			}
		},
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.afiSafis[0].addPaths.config.sendMax", "spec.afiSafis[1]"},
	}, {
		name: "mpGracefulRestart without gracefulRestart",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.AfiSafis = []v1alpha2.AfiSafi{afiSafi("AFI_IP", true, true, nil)}
		},
		want:         func(*api.Peer) {},
		wantProblems: []string{"spec.afiSafis[0].mpGracefulRestart"},
	}, {
		name: "gracefulRestart with families none of which restarts gracefully",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true}
			s.AfiSafis = []v1alpha2.AfiSafi{afiSafi("AFI_IP", true, false, nil)}
		},
		want:         func(p *api.Peer) { p.GracefulRestart = &api.GracefulRestart{Enabled: true, LocalRestarting: true} },
		wantProblems: []string{"spec.afiSafis"},
	}, {
		name: "nodeSelector selects, and is no GoBGP setting",
		peer: func(s *v1alpha2.BgpPeerSpec) {
			s.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"role": "edge"}}
		},
		want: func(*api.Peer) {},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := testConf()
			if tt.conf != nil {
				tt.conf(&conf.Spec)
			}
			cfg, err := Translate(conf, []v1alpha2.BgpPeer{testPeer("tor", "10.0.0.1", tt.peer)}, testNode, noPassword)
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			if len(cfg.Peers) != 1 {
				t.Fatalf("Translate ran %d peers, want 1; problems: %q", len(cfg.Peers), cfg.PeerProblems)
			}
			want := basePeerAPI()
			tt.want(want)
			if diff := cmp.Diff(want, apiPeer(cfg.Peers[0]), protocmp.Transform()); diff != "" {
				t.Errorf("GoBGP peer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantProblems, problemFields(cfg.PeerProblems["tor"])); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%q", diff, cfg.PeerProblems["tor"])
			}
		})
	}
}

func afiSafi(afi string, enabled, gr bool, addPaths *v1alpha2.AddPathsConfig) v1alpha2.AfiSafi {
	a := v1alpha2.AfiSafi{Config: &v1alpha2.AfiSafiConfig{
		Family:  &v1alpha2.Family{Afi: afi, Safi: "SAFI_UNICAST"},
		Enabled: enabled,
	}}
	if gr {
		a.MpGracefulRestart = &v1alpha2.MpGracefulRestart{Config: &v1alpha2.MpGracefulRestartConfig{Enabled: true}}
	}
	if addPaths != nil {
		a.AddPaths = &v1alpha2.AddPaths{Config: addPaths}
	}
	return a
}
