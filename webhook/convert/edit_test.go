package convert

import (
	"context"
	"testing"

	"sigs.k8s.io/randfill"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
)

// coin is a random bool from f.
func coin(f *randfill.Filler) bool {
	var b bool
	f.Fill(&b)
	return b
}

// The tests below are the read-modify-write a v1alpha1 client does: read a
// random v1alpha2 object through v1alpha1, change some v1alpha1 fields to
// random values, write it back. What a v1alpha1 read then shows must be
// exactly what was written, and every v1alpha2 field v1alpha1 cannot show
// must be as it was.

func TestEipV1alpha1Edit(t *testing.T) {
	ctx := context.Background()
	f := filler(2)
	for i := range iterations {
		var hub v1alpha2.Eip
		f.Fill(&hub)
		var read, edit v1alpha1.Eip
		if err := EipFromHub(ctx, wire(t, &hub), &read); err != nil {
			t.Fatal(err)
		}
		f.Fill(&edit)
		written := *wire(t, &read)
		if coin(f) {
			written.Spec = edit.Spec
		}
		if coin(f) {
			written.Status = edit.Status
		}
		var stored v1alpha2.Eip
		if err := EipToHub(ctx, wire(t, &written), &stored); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		var reread v1alpha1.Eip
		if err := EipFromHub(ctx, wire(t, &stored), &reread); err != nil {
			t.Fatal(err)
		}
		same(t, "v1alpha1 spec read back", written.Spec, reread.Spec)
		same(t, "v1alpha1 status read back", written.Status, reread.Status)
		want := hub.Spec
		want.Address, want.Protocol, want.Disable, want.UsingKnownIPs = written.Spec.Address, written.Spec.Protocol, written.Spec.Disable, written.Spec.UsingKnownIPs
		same(t, "v1alpha2 spec after the v1alpha1 write", want, stored.Spec)
		wantStatus := hub.Status
		wantStatus.Occupied, wantStatus.Usage, wantStatus.PoolSize = written.Status.Occupied, written.Status.Usage, written.Status.PoolSize
		same(t, "v1alpha2 status after the v1alpha1 write", wantStatus, stored.Status)
	}
}

func TestBgpConfV1alpha1Edit(t *testing.T) {
	ctx := context.Background()
	f := filler(3)
	for i := range iterations {
		var hub v1alpha2.BgpConf
		f.Fill(&hub)
		var read, edit v1alpha1.BgpConf
		if err := BgpConfFromHub(ctx, wire(t, &hub), &read); err != nil {
			t.Fatal(err)
		}
		f.Fill(&edit)
		written := *wire(t, &read)
		if coin(f) {
			written.Spec.As = edit.Spec.As
		}
		if coin(f) {
			written.Spec.RouterId = edit.Spec.RouterId
		}
		if coin(f) {
			written.Spec.Port = edit.Spec.Port
		}
		var stored v1alpha2.BgpConf
		if err := BgpConfToHub(ctx, wire(t, &written), &stored); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		want := hub.Spec
		want.As, want.RouterId, want.ListenPort = v1alpha2.ASNumber(written.Spec.As), written.Spec.RouterId, written.Spec.Port
		same(t, "v1alpha2 spec after the v1alpha1 write", want, stored.Spec)
		same(t, "v1alpha2 status after the v1alpha1 write", hub.Status, stored.Status)
	}
}

func TestBgpPeerV1alpha1Edit(t *testing.T) {
	ctx := context.Background()
	f := filler(4)
	for i := range iterations {
		var hub v1alpha2.BgpPeer
		f.Fill(&hub)
		var read, edit v1alpha1.BgpPeer
		if err := BgpPeerFromHub(ctx, wire(t, &hub), &read); err != nil {
			t.Fatal(err)
		}
		f.Fill(&edit)
		written := *wire(t, &read)
		config, addPaths, transport := coin(f), coin(f), coin(f)
		if config {
			written.Spec.Config = edit.Spec.Config
		}
		if addPaths {
			written.Spec.AddPaths = edit.Spec.AddPaths
		}
		if transport {
			written.Spec.Transport = edit.Spec.Transport
		}
		if coin(f) {
			written.Spec.UsingPortForward = edit.Spec.UsingPortForward
		}
		var stored v1alpha2.BgpPeer
		if err := BgpPeerToHub(ctx, wire(t, &written), &stored); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		var reread v1alpha1.BgpPeer
		if err := BgpPeerFromHub(ctx, wire(t, &stored), &reread); err != nil {
			t.Fatal(err)
		}
		same(t, "v1alpha1 spec read back", written.Spec, reread.Spec)

		// What v1alpha1 cannot show is untouched.
		s, h := stored.Spec, hub.Spec
		same(t, "ebgpMultihop", h.EbgpMultihop, s.EbgpMultihop)
		same(t, "timers", h.Timers, s.Timers)
		same(t, "gracefulRestart", h.GracefulRestart, s.GracefulRestart)
		same(t, "nodeSelector", h.NodeSelector, s.NodeSelector)
		same(t, "status", hub.Status, stored.Status)
		if s.Conf != nil && h.Conf != nil {
			sc, hc := *s.Conf, *h.Conf
			sc.PeerAs, sc.NeighborAddress, hc.PeerAs, hc.NeighborAddress = 0, "", 0, ""
			same(t, "conf beyond peerAs and neighborAddress", hc, sc)
		}
		if s.Transport != nil && h.Transport != nil {
			same(t, "transport beyond passiveMode and remotePort",
				[]any{h.Transport.MtuDiscovery, h.Transport.RemoteAddress, h.Transport.TcpMss},
				[]any{s.Transport.MtuDiscovery, s.Transport.RemoteAddress, s.Transport.TcpMss})
		}
		if len(h.AfiSafis) > 0 {
			if len(s.AfiSafis) != len(h.AfiSafis) {
				t.Fatalf("afiSafis: %d entries became %d", len(h.AfiSafis), len(s.AfiSafis))
			}
			for j := range h.AfiSafis {
				same(t, "afiSafis[].config", h.AfiSafis[j].Config, s.AfiSafis[j].Config)
				same(t, "afiSafis[].mpGracefulRestart", h.AfiSafis[j].MpGracefulRestart, s.AfiSafis[j].MpGracefulRestart)
			}
		}
		if !config && !addPaths && !transport {
			same(t, "spec when only usingPortForward may have changed", h, s)
		}
	}
}

// TestBgpPeerMapping pins what each v1alpha1 field becomes in v1alpha2,
// which the round trips alone would not catch (a consistent swap would
// pass them).
func TestBgpPeerMapping(t *testing.T) {
	for _, tc := range []struct {
		name     string
		neighbor string
		wantAfi  string
	}{
		{"IPv4 neighbour", "172.22.0.2", "AFI_IP"},
		{"IPv6 neighbour", "2001:db8::2", "AFI_IP6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &v1alpha1.BgpPeer{Spec: v1alpha1.BgpPeerSpec{
				Config:           v1alpha1.NeighborConfig{PeerAs: 65001, NeighborAddress: tc.neighbor},
				AddPaths:         v1alpha1.AddPaths{SendMax: 8},
				Transport:        v1alpha1.Transport{PassiveMode: true, RemotePort: 17900},
				UsingPortForward: true,
			}}
			var out v1alpha2.BgpPeer
			if err := BgpPeerToHub(context.Background(), in, &out); err != nil {
				t.Fatal(err)
			}
			want := v1alpha2.BgpPeerSpec{
				Conf:      &v1alpha2.PeerConf{PeerAs: 65001, NeighborAddress: tc.neighbor},
				Transport: &v1alpha2.Transport{PassiveMode: true, RemotePort: 17900},
				AfiSafis: []v1alpha2.AfiSafi{{
					Config:   &v1alpha2.AfiSafiConfig{Family: &v1alpha2.Family{Afi: tc.wantAfi, Safi: "SAFI_UNICAST"}, Enabled: true},
					AddPaths: &v1alpha2.AddPaths{Config: &v1alpha2.AddPathsConfig{SendMax: 8}},
				}},
			}
			same(t, "v1alpha2 spec", want, out.Spec)
			if got := out.Annotations[AnnotationV1alpha1Fields]; got != `{"spec":{"usingPortForward":true},"status":{}}` {
				t.Errorf("annotation %s = %q", AnnotationV1alpha1Fields, got)
			}
		})
	}
}

// TestBgpConfMapping pins the renames.
func TestBgpConfMapping(t *testing.T) {
	in := &v1alpha1.BgpConf{Spec: v1alpha1.BgpConfSpec{As: 4200000000, RouterId: "10.0.0.1", Port: 17900}}
	var out v1alpha2.BgpConf
	if err := BgpConfToHub(context.Background(), in, &out); err != nil {
		t.Fatal(err)
	}
	same(t, "v1alpha2 spec", v1alpha2.BgpConfSpec{As: 4200000000, RouterId: "10.0.0.1", ListenPort: 17900}, out.Spec)
	if len(out.Annotations) != 0 {
		t.Errorf("annotations %v, want none", out.Annotations)
	}
}
