package keepalived

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata from Render's output")

// goldenCases are the inputs of the golden files testdata/<name>.conf, all
// rendered for node-a. Interfaces are eth0 and vlan100, which
// TestGoldenFilesPassKeepalivedCheck swaps for one that exists here.
func goldenCases() map[string]Config {
	nodes := func(ns ...string) []string { return ns }
	addrs := map[string][]netip.Addr{
		"node-a": {netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("fd00::2")},
		"node-b": {netip.MustParseAddr("fd00::3"), netip.MustParseAddr("192.0.2.3")},
		"node-c": {netip.MustParseAddr("192.0.2.4"), netip.MustParseAddr("fd00::4")},
		"node-d": {netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("fd00::5")},
	}
	v4 := []VIP{
		{Addr: netip.MustParseAddr("198.51.100.20"), VRID: 2, Interface: "eth0", Ranked: nodes("node-b", "node-a", "node-c", "node-d")},
		{Addr: netip.MustParseAddr("198.51.100.3"), VRID: 1, Interface: "eth0", Ranked: nodes("node-a", "node-c", "node-b")},
		{Addr: netip.MustParseAddr("198.51.100.100"), VRID: 7, Interface: "vlan100", Ranked: nodes("node-c", "node-b", "node-a")},
		// node-a ranks fourth: beyond the cap of 3, no instance.
		{Addr: netip.MustParseAddr("198.51.100.4"), VRID: 3, Interface: "eth0", Ranked: nodes("node-b", "node-c", "node-d", "node-a")},
	}
	v6 := []VIP{
		{Addr: netip.MustParseAddr("2001:db8::a"), VRID: 1, Interface: "eth0", Ranked: nodes("node-a", "node-b")},
		{Addr: netip.MustParseAddr("2001:db8::1:0"), VRID: 2, Interface: "eth0", Ranked: nodes("node-b", "node-a")},
	}
	base := func() Config {
		return Config{Node: "node-a", NodeAddrs: addrs, Settings: DefaultSettings()}
	}

	cases := map[string]Config{}
	c := base()
	c.VIPs = v4
	cases["ipv4"] = c

	c = base()
	c.VIPs = v6
	cases["ipv6"] = c

	c = base()
	c.Settings.Unicast = true
	c.Settings.AdvertInterval = 100 * time.Millisecond
	c.Settings.PreemptDelay = 5 * time.Second
	c.VIPs = append(append([]VIP{}, v6...), v4...)
	// Only node-a is eligible: multicast, see TestRenderUnicastLoneParticipant.
	c.VIPs = append(c.VIPs, VIP{Addr: netip.MustParseAddr("198.51.100.50"), VRID: 50, Interface: "eth0", Ranked: nodes("node-a")})
	cases["unicast"] = c

	c = base()
	c.VIPs = []VIP{
		{Addr: netip.MustParseAddr("198.51.100.8"), VRID: 9, Interface: "eth0", Ranked: nodes("node-a", "node-b"), Local: true},
		{Addr: netip.MustParseAddr("198.51.100.9"), VRID: 10, Interface: "eth0", Ranked: nodes("node-b", "node-a")},
		{Addr: netip.MustParseAddr("2001:db8::8"), VRID: 9, Interface: "eth0", Ranked: nodes("node-b", "node-a"), Local: true},
	}
	cases["local"] = c

	cases["empty"] = base()

	// Per-Eip overrides on a cluster of 1 s multicast adverts: one VIP
	// with fast unicast adverts and a preempt delay (VRRPv3 for that
	// instance alone), one back on multicast in a unicast cluster, and
	// one left alone.
	fast, delay, on, off := 100*time.Millisecond, 30*time.Second, true, false
	c = base()
	c.VIPs = []VIP{
		{Addr: netip.MustParseAddr("198.51.100.30"), VRID: 30, Interface: "eth0", Ranked: nodes("node-a", "node-b"),
			Override: Override{AdvertInterval: fast, PreemptDelay: &delay, Unicast: &on}},
		{Addr: netip.MustParseAddr("198.51.100.31"), VRID: 31, Interface: "eth0", Ranked: nodes("node-b", "node-a")},
		{Addr: netip.MustParseAddr("2001:db8::30"), VRID: 30, Interface: "eth0", Ranked: nodes("node-b", "node-a"),
			Override: Override{AdvertInterval: 2 * time.Second, Unicast: &off}},
	}
	cases["override"] = c

	// node-a is second or lower everywhere and the cap is 1.
	c = base()
	c.Settings.Participants = 1
	c.VIPs = []VIP{v4[0], v4[2], v4[3], v6[1]}
	cases["none"] = c
	return cases
}

func TestRenderGolden(t *testing.T) {
	for name, c := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			got, err := Render(c)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			path := filepath.Join("testdata", name+".conf")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Render differs from %s (-want +got); run with -update if intended:\n%s", path, diff)
			}
			// Shuffled input renders the same bytes.
			rev := c
			rev.VIPs = nil
			for i := len(c.VIPs) - 1; i >= 0; i-- {
				rev.VIPs = append(rev.VIPs, c.VIPs[i])
			}
			again, err := Render(rev)
			if err != nil || !bytes.Equal(got, again) {
				t.Errorf("Render depends on the order of VIPs (err %v)", err)
			}
		})
	}
}

// TestGoldenFilesPassKeepalivedCheck runs `keepalived -t` over every golden
// file, so a file the renderer is pinned to is one keepalived accepts.
// keepalived resolves interface names in this network namespace and
// refuses loopback for VRRP, so eth0/vlan100 become a local non-loopback
// interface. -t exits 0 when the file is missing, hence the explicit check.
func TestGoldenFilesPassKeepalivedCheck(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/keepalived"); err != nil {
			t.Skip("keepalived is not installed")
		}
	}
	iface := localInterface(t)
	goldens, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(goldens) != len(goldenCases()) {
		t.Fatalf("golden files %v (err %v), want %d", goldens, err, len(goldenCases()))
	}
	ifaceName := regexp.MustCompile(`\b(eth0|vlan100)\b`)
	for _, golden := range goldens {
		t.Run(filepath.Base(golden), func(t *testing.T) {
			conf, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "keepalived.conf")
			if err := os.WriteFile(path, ifaceName.ReplaceAll(conf, []byte(iface)), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("config to check is missing: %v", err)
			}
			out, err := exec.Command(bin, "-t", "-l", "-G", "-f", path).CombinedOutput()
			if err != nil {
				t.Errorf("keepalived -t refused %s: %v\n%s", golden, err, out)
			}
		})
	}
}

// localInterface is a non-loopback interface of this network namespace.
func localInterface(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, wantUp := range []bool{true, false} {
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback == 0 && (!wantUp || i.Flags&net.FlagUp != 0) {
				return i.Name
			}
		}
	}
	t.Skip("no non-loopback interface for keepalived -t to resolve")
	return ""
}

// TestKeepalivedCheckCatchesErrors proves the check above can fail: a
// config with a VRID keepalived refuses exits non-zero.
func TestKeepalivedCheckCatchesErrors(t *testing.T) {
	bin, err := exec.LookPath("/usr/sbin/keepalived")
	if err != nil {
		t.Skip("keepalived is not installed")
	}
	path := filepath.Join(t.TempDir(), "bad.conf")
	bad := "vrrp_instance x {\n    interface " + localInterface(t) + "\n    virtual_router_id 300\n    priority 254\n    virtual_ipaddress {\n        198.51.100.1/32\n    }\n}\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	err = exec.Command(bin, "-t", "-l", "-G", "-f", path).Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 5 {
		t.Errorf("keepalived -t on a bad config: %v, want exit status 5", err)
	}
}

// TestSettingsBoundsPassKeepalivedCheck: the extremes Settings.Validate
// accepts are ones keepalived accepts without rounding (it exits 5 when it
// would round an interval).
func TestSettingsBoundsPassKeepalivedCheck(t *testing.T) {
	bin, err := exec.LookPath("/usr/sbin/keepalived")
	if err != nil {
		t.Skip("keepalived is not installed")
	}
	iface := localInterface(t)
	tests := []struct {
		advert, preempt time.Duration
	}{
		{10 * time.Millisecond, 0},
		{40950 * time.Millisecond, 1000 * time.Second},
		{250 * time.Millisecond, 500 * time.Millisecond},
		{time.Second, 10 * time.Millisecond},
		{40 * time.Second, 0},
	}
	for _, tt := range tests {
		c := Config{Node: "node-a", Settings: DefaultSettings(), VIPs: []VIP{
			{Addr: netip.MustParseAddr("198.51.100.1"), VRID: 1, Interface: iface, Ranked: []string{"node-a"}},
			{Addr: netip.MustParseAddr("2001:db8::1"), VRID: 1, Interface: iface, Ranked: []string{"node-a"}},
		}}
		c.Settings.AdvertInterval, c.Settings.PreemptDelay = tt.advert, tt.preempt
		conf, err := Render(c)
		if err != nil {
			t.Fatalf("advert %v, preempt delay %v: %v", tt.advert, tt.preempt, err)
		}
		path := filepath.Join(t.TempDir(), "keepalived.conf")
		if err := os.WriteFile(path, conf, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "-t", "-l", "-G", "-f", path).CombinedOutput(); err != nil {
			t.Errorf("advert %v, preempt delay %v: keepalived -t: %v\n%s\n%s", tt.advert, tt.preempt, err, out, conf)
		}
	}
}
