package keepalived

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRenderRefuses(t *testing.T) {
	ok := func() Config {
		return Config{
			Node: "node-a",
			NodeAddrs: map[string][]netip.Addr{
				"node-a": {netip.MustParseAddr("192.0.2.2")},
				"node-b": {netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("fd00::3")},
			},
			Settings: DefaultSettings(),
			VIPs: []VIP{
				{Addr: netip.MustParseAddr("198.51.100.1"), VRID: 1, Interface: "eth0", Ranked: []string{"node-a", "node-b"}},
			},
		}
	}
	vip := func(addr string, vrid VRID, iface string, ranked ...string) VIP {
		return VIP{Addr: netip.MustParseAddr(addr), VRID: vrid, Interface: iface, Ranked: ranked}
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   []string // substrings of the error, each required
	}{
		{"no node name", func(c *Config) { c.Node = "" }, []string{"node name: empty"}},
		{"advert not whole centiseconds", func(c *Config) { c.Settings.AdvertInterval = 1005 * time.Millisecond }, []string{"advert interval 1.005s"}},
		{"advert too long for VRRPv3", func(c *Config) { c.Settings.AdvertInterval = 41 * time.Second }, []string{"advert interval 41s: want whole centiseconds up to 40.95 s"}},
		{"advert negative", func(c *Config) { c.Settings.AdvertInterval = -time.Second }, []string{"advert interval -1s: not positive"}},
		{"preempt delay too long", func(c *Config) { c.Settings.PreemptDelay = 1001 * time.Second }, []string{"preempt delay 16m41s"}},
		{"too many participants", func(c *Config) { c.Settings.Participants = 55 }, []string{"participants 55: at most 54"}},
		{"unicast alone", func(c *Config) { c.Settings.Unicast = true; c.Settings.Participants = 1 }, []string{"participants 1: unicast needs at least 2"}},
		{"relative paths, both named", func(c *Config) { c.Settings.TrackDir = "track"; c.Settings.NotifyFIFO = "" }, []string{`track directory "track"`, `notify fifo ""`}},
		{"no address", func(c *Config) { c.VIPs = append(c.VIPs, VIP{VRID: 2, Interface: "eth0"}) }, []string{"not a plain address"}},
		{"zoned address", func(c *Config) { c.VIPs = append(c.VIPs, vip("fe80::1%eth0", 2, "eth0", "node-a")) }, []string{"not a plain address"}},
		{"address twice, once IPv4-mapped", func(c *Config) { c.VIPs = append(c.VIPs, vip("::ffff:198.51.100.1", 2, "eth0", "node-a")) }, []string{"vip 198.51.100.1: listed twice"}},
		{"duplicate vrid in a family", func(c *Config) { c.VIPs = append(c.VIPs, vip("198.51.100.2", 1, "eth0", "node-b")) }, []string{"vip 198.51.100.2: vrid 1 already used by 198.51.100.1"}},
		{"no vrid, even where this node is not a participant", func(c *Config) { c.VIPs = append(c.VIPs, vip("198.51.100.2", 0, "", "node-b")) }, []string{"vip 198.51.100.2: no vrid"}},
		{"ranked twice", func(c *Config) { c.VIPs = append(c.VIPs, vip("198.51.100.2", 2, "eth0", "node-b", "node-b")) }, []string{`vip 198.51.100.2: node "node-b" ranked twice`}},
		{"missing interface", func(c *Config) { c.VIPs[0].Interface = "" }, []string{`vip 198.51.100.1: interface "": not a valid interface name`}},
		{"bad interface", func(c *Config) { c.VIPs[0].Interface = "eth0 dev lo" }, []string{`interface "eth0 dev lo"`}},
		{"interface too long", func(c *Config) { c.VIPs[0].Interface = "abcdefghijklmnop" }, []string{`interface "abcdefghijklmnop"`}},
		{"unicast: this node lacks the family", func(c *Config) {
			c.Settings.Unicast = true
			c.VIPs = append(c.VIPs, vip("2001:db8::1", 1, "eth0", "node-b", "node-a"))
		}, []string{`vip 2001:db8::1: node "node-a": no IPv6 address for unicast`}},
		{"unicast: a peer lacks addresses", func(c *Config) {
			c.Settings.Unicast = true
			c.VIPs[0].Ranked = []string{"node-a", "node-c"}
		}, []string{`vip 198.51.100.1: node "node-c": no IPv4 address for unicast`}},
		{"every bad VIP is named", func(c *Config) {
			c.VIPs = append(c.VIPs, vip("198.51.100.2", 0, "eth0", "node-a"), vip("2001:db8::2", 3, "", "node-a"))
		}, []string{"vip 198.51.100.2: no vrid", `vip 2001:db8::2: interface ""`}},
	}
	if _, err := Render(ok()); err != nil {
		t.Fatalf("the base config is refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.change(&c)
			out, err := Render(c)
			if err == nil || out != nil {
				t.Fatalf("Render = %d bytes, error %v; want nothing and an error", len(out), err)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %q does not wrap ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRenderAccepts(t *testing.T) {
	c := Config{
		Node:     "node-a",
		Settings: DefaultSettings(),
		VIPs: []VIP{
			{Addr: netip.MustParseAddr("198.51.100.1"), VRID: 1, Interface: "eth0", Ranked: []string{"node-a"}},
			// Same VRID, other family: separate spaces.
			{Addr: netip.MustParseAddr("2001:db8::1"), VRID: 1, Interface: "eth0", Ranked: []string{"node-a"}},
			// Not a participant: its interface is not resolved on this node.
			{Addr: netip.MustParseAddr("198.51.100.2"), VRID: 2, Ranked: []string{"node-b"}},
		},
	}
	for _, advert := range []time.Duration{10 * time.Millisecond, 150 * time.Millisecond, 40950 * time.Millisecond, 40 * time.Second} {
		c.Settings.AdvertInterval = advert
		out, err := Render(c)
		if err != nil {
			t.Fatalf("advert %v: %v", advert, err)
		}
		if strings.Contains(string(out), "198.51.100.2") {
			t.Errorf("advert %v: rendered an instance this node does not run:\n%s", advert, out)
		}
	}
}

func TestInstanceName(t *testing.T) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"} {
		a := netip.MustParseAddr(s)
		got, ok := ParseInstanceName(InstanceName(a))
		if !ok || got != a.Unmap() {
			t.Errorf("ParseInstanceName(InstanceName(%s)) = %s, %v", s, got, ok)
		}
	}
	for _, name := range []string{"VI_1", "vip_", "vip_nope", "vip_fe80::1%eth0", "vip_::ffff:192.0.2.1"} {
		if a, ok := ParseInstanceName(name); ok {
			t.Errorf("ParseInstanceName(%q) = %s, want not ours", name, a)
		}
	}
	if got := TrackFilePath("/run/t", netip.MustParseAddr("::ffff:192.0.2.1")); got != "/run/t/192.0.2.1" {
		t.Errorf("TrackFilePath = %q", got)
	}
}

// TestRenderUnicastLoneParticipant: with one eligible node, unicast mode
// has no peer to send to. keepalived then puts an instance with
// unicast_fault_no_peer in FAULT (the VIP is never served) and refuses one
// without it (-t exits 5: "defaulting to multicast" is deprecated), so the
// lone participant's instance is a plain multicast one.
func TestRenderUnicastLoneParticipant(t *testing.T) {
	c := Config{
		Node:      "node-a",
		NodeAddrs: map[string][]netip.Addr{"node-a": {netip.MustParseAddr("192.0.2.2")}, "node-b": {netip.MustParseAddr("192.0.2.3")}},
		Settings:  DefaultSettings(),
		VIPs: []VIP{
			{Addr: netip.MustParseAddr("198.51.100.1"), VRID: 1, Interface: "eth0", Ranked: []string{"node-a"}},
			{Addr: netip.MustParseAddr("198.51.100.2"), VRID: 2, Interface: "eth0", Ranked: []string{"node-b", "node-a"}},
		},
	}
	c.Settings.Unicast = true
	out, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	b := blocks(out)
	lone, pair := b["vrrp_instance vip_198.51.100.1 {"], b["vrrp_instance vip_198.51.100.2 {"]
	if strings.Contains(lone, "unicast") {
		t.Errorf("the lone participant's instance has unicast keywords:\n%s", lone)
	}
	if !strings.Contains(pair, "unicast_peer {\n        192.0.2.3\n    }") || !strings.Contains(pair, "unicast_fault_no_peer") {
		t.Errorf("the shared instance is not unicast:\n%s", pair)
	}
}
