package keepalived

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func held(iface, prefix string) HeldVIP {
	return HeldVIP{Interface: iface, Addr: netip.MustParsePrefix(prefix)}
}

var cmpVIPs = cmpopts.EquateComparable(netip.Prefix{})

func TestConfigVIPs(t *testing.T) {
	for _, tc := range []struct {
		name string
		conf string
		want []HeldVIP
	}{
		{"empty", "", nil},
		{"no instance", "global_defs {\n    router_id a\n}\n", nil},
		{"herald's form, v4 and v6", `
vrrp_instance vip_192.0.2.10 {
    interface eth0
    virtual_ipaddress {
        192.0.2.10/32 dev eth0
    }
}
vrrp_instance vip_2001:db8::10 {
    interface eth1
    virtual_ipaddress {
        2001:db8::10/128 dev eth1
    }
}`, []HeldVIP{held("eth0", "192.0.2.10/32"), held("eth1", "2001:db8::10/128")}},
		{"bare address on the instance's interface, declared after the block", `
vrrp_instance x {
    virtual_ipaddress {
        192.0.2.11
        2001:db8::11
    }
    interface vlan7
}`, []HeldVIP{held("vlan7", "192.0.2.11/32"), held("vlan7", "2001:db8::11/128")}},
		{"dev wins over the instance's interface, options around it", `
vrrp_instance x {
    interface eth0
    virtual_ipaddress {
        192.0.2.12/32 brd 192.0.2.12 dev eth9 scope global label eth9:vip
    }
}`, []HeldVIP{held("eth9", "192.0.2.12/32")}},
		{"excluded addresses are held too", `
vrrp_instance x {
    interface eth0
    virtual_ipaddress_excluded {
        192.0.2.13/32
    }
}`, []HeldVIP{held("eth0", "192.0.2.13/32")}},
		{"wider prefixes are never ours", `
vrrp_instance x {
    interface eth0
    virtual_ipaddress {
        192.0.2.14/24 dev eth0
        2001:db8::14/64 dev eth0
        192.0.2.15/32 dev eth0
    }
}`, []HeldVIP{held("eth0", "192.0.2.15/32")}},
		{"no interface anywhere: left out", `
vrrp_instance x {
    virtual_ipaddress {
        192.0.2.16/32
    }
}`, nil},
		{"comments, garbage and zones", `
# virtual_ipaddress { 192.0.2.99/32 dev eth0 }
vrrp_instance x { ! a comment
    interface eth0
    virtual_ipaddress {
        not-an-address dev eth0
        fe80::1%eth0/128 dev eth0
        ::ffff:192.0.2.17/128 dev eth0
        192.0.2.18/32 dev eth0 # trailing comment
    }
    track_file {
        vip_192.0.2.18 weight 0
    }
}`, []HeldVIP{held("eth0", "192.0.2.18/32")}},
		{"outside an instance: not a VIP", `
virtual_server 192.0.2.19 80 {
    real_server 192.0.2.20 80 {
    }
}
static_ipaddress {
    192.0.2.21/32 dev eth0
}`, nil},
		{"one line, duplicates once", `vrrp_instance a { interface eth0
virtual_ipaddress { 192.0.2.22/32 } }
vrrp_instance b { interface eth0
virtual_ipaddress { 192.0.2.22/32 dev eth0 } }`, []HeldVIP{held("eth0", "192.0.2.22/32")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ConfigVIPs([]byte(tc.conf)), cmpVIPs); diff != "" {
				t.Errorf("ConfigVIPs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigVIPsOfRenderedConfigs: for every golden config, the VIPs found
// are exactly those of the instances Render wrote for the node.
func TestConfigVIPsOfRenderedConfigs(t *testing.T) {
	for name, c := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			conf, err := Render(c)
			if err != nil {
				t.Fatal(err)
			}
			v, err := buildView(c)
			if err != nil {
				t.Fatal(err)
			}
			var want []HeldVIP
			for _, inst := range v.Instances {
				want = append(want, HeldVIP{Interface: inst.Interface, Addr: netip.PrefixFrom(inst.Addr, inst.Prefix)})
			}
			want = unionVIPs(want, nil)
			if diff := cmp.Diff(want, ConfigVIPs(conf), cmpVIPs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ConfigVIPs (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeAddresses records removals; addresses listed in present are removed
// (once), fail makes every call fail.
type fakeAddresses struct {
	mu      sync.Mutex
	present map[HeldVIP]bool
	calls   []HeldVIP
	fail    error
}

func (f *fakeAddresses) RemoveAddress(ifname string, addr netip.Prefix) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := HeldVIP{Interface: ifname, Addr: addr}
	f.calls = append(f.calls, v)
	if f.fail != nil {
		return false, f.fail
	}
	was := f.present[v]
	delete(f.present, v)
	return was, nil
}

func (f *fakeAddresses) removed() []HeldVIP {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// waitRemoved waits, for up to 5 s, until exactly want were asked to be
// removed: the supervisor removes stale VIPs after it reported the exit
// and scheduled the restart, so a test that saw those may be ahead of it.
func (f *fakeAddresses) waitRemoved(t *testing.T, want ...HeldVIP) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		diff := cmp.Diff(want, f.removed(), cmpVIPs)
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("removals after 5 s (-want +got):\n%s", diff)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func vipConf(addrs ...string) string {
	var b strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&b, "vrrp_instance vip_%s {\n    interface eth0\n    virtual_ipaddress {\n        %s/32 dev eth0\n    }\n}\n", a, a)
	}
	return b.String()
}

func TestSupervisorRemovesStaleVIPsAfterACrash(t *testing.T) {
	h := newHarness(t)
	addrs := &fakeAddresses{present: map[HeldVIP]bool{held("eth0", "192.0.2.1/32"): true}}
	h.sup.Addresses = addrs
	h.render(vipConf("192.0.2.1", "192.0.2.2"))
	h.run()
	p := h.started()
	if got := addrs.removed(); len(got) != 0 {
		t.Fatalf("removed %v while keepalived runs", got)
	}
	p.crash()
	h.expect(EventExited)
	if ev := h.expect(EventVIPRemoved); ev.VIP != held("eth0", "192.0.2.1/32") {
		t.Errorf("removal event for %v, want 192.0.2.1/32 on eth0", ev.VIP)
	}
	// 192.0.2.2 was not there (this node was BACKUP for it): asked, but
	// nothing reported.
	addrs.waitRemoved(t, held("eth0", "192.0.2.1/32"), held("eth0", "192.0.2.2/32"))
	h.timer(time.Second).fire <- time.Time{}
	h.started()
}

func TestSupervisorRemovesStaleVIPsOfTheLastLiveConfigAtStart(t *testing.T) {
	h := newHarness(t)
	addrs := &fakeAddresses{present: map[HeldVIP]bool{held("eth0", "192.0.2.3/32"): true}}
	h.sup.Addresses = addrs
	// A previous run's config, which keepalived now refuses: its VIPs go
	// all the same, and before anything starts.
	if err := os.WriteFile(h.sup.Live, []byte(vipConf("192.0.2.3")+"refuse"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.run()
	h.expect(EventVIPRemoved)
	h.expect(EventRefused)
	h.render(vipConf("192.0.2.4"))
	h.nudge()
	h.started()
	if diff := cmp.Diff([]HeldVIP{held("eth0", "192.0.2.3/32")}, addrs.removed(), cmpVIPs); diff != "" {
		t.Errorf("removals (-want +got):\n%s", diff)
	}
}

// TestSupervisorRemovesVIPsOfTheConfigBeforeAReload: keepalived may die
// before it has removed the VIP a reload dropped.
func TestSupervisorRemovesVIPsOfTheConfigBeforeAReload(t *testing.T) {
	h := newHarness(t)
	addrs := &fakeAddresses{}
	h.sup.Addresses = addrs
	h.render(vipConf("192.0.2.5"))
	h.run()
	p := h.started()
	h.render(vipConf("192.0.2.6"))
	h.nudge()
	h.expect(EventReloaded)
	h.render(vipConf("192.0.2.7"))
	h.nudge()
	h.expect(EventReloaded)
	p.crash()
	h.expect(EventExited)
	h.timer(time.Second)
	addrs.waitRemoved(t, held("eth0", "192.0.2.6/32"), held("eth0", "192.0.2.7/32"))
}

func TestSupervisorReportsFailedRemovals(t *testing.T) {
	h := newHarness(t)
	h.sup.Addresses = &fakeAddresses{fail: fmt.Errorf("operation not permitted")}
	h.render(vipConf("192.0.2.8"))
	h.run()
	h.started()
	h.cancel()
	h.expect(EventStopped)
	if ev := h.expect(EventVIPRemoveFailed); ev.Err == nil || !strings.Contains(ev.Err.Error(), "192.0.2.8/32 from eth0: operation not permitted") {
		t.Errorf("failure event %+v", ev)
	}
}
