package rig

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// explicitConfig has one of each neighbour option, IPv4 only.
func explicitConfig() BirdConfig {
	a := netip.MustParseAddr
	return BirdConfig{
		RouterID: a("10.99.0.1"),
		AS:       RouterAS,
		Families: []string{"ipv4"},
		Timers:   BirdTimers{Hold: 30, Keepalive: 10, ConnectDelay: 2, ConnectRetry: 5, ErrorWaitMin: 2, ErrorWaitMax: 20},
		Passive:  true,
		Neighbors: []BirdNeighbor{
			{Name: "node1", Address: a("10.99.0.11"), Local: a("10.99.0.1"), AS: NodeAS},
			{Name: "node2", Address: a("10.99.0.12"), Local: a("10.99.0.1"), AS: 64514, Port: 17900, Multihop: 2, Password: "s3cret", Passive: true},
		},
	}
}

// bfdConfig is the default ToR with BFD at 300 ms × 3.
func bfdConfig(p Plan) BirdConfig {
	c := p.BirdToRConfig(NodeAS)
	c.BFD = &BirdBFD{Interval: 300 * time.Millisecond, Multiplier: 3}
	return c
}

func TestBirdConfigGolden(t *testing.T) {
	plan, err := NewPlan("he2e-1-1-", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		golden string
		cfg    BirdConfig
	}{
		{"bird-tor.conf", plan.BirdToRConfig(NodeAS)},
		{"bird-explicit.conf", explicitConfig()},
		{"bird-bfd.conf", bfdConfig(plan)},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got, err := tc.cfg.Render()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
			// BIRD itself must accept what we render (no root needed).
			if _, err := exec.LookPath("bird"); err != nil {
				t.Logf("bird not installed: syntax not checked (make deps)")
				return
			}
			if out, err := exec.Command("bird", "-p", "-c", path).CombinedOutput(); err != nil {
				t.Errorf("bird -p -c %s: %v\n%s", path, err, out)
			}
		})
	}
}

func TestBirdConfigValidate(t *testing.T) {
	good := explicitConfig()
	for _, tc := range []struct {
		name   string
		mutate func(*BirdConfig)
		want   string
	}{
		{"router id IPv6", func(c *BirdConfig) { c.RouterID = netip.MustParseAddr("fd99::1") }, "router id"},
		{"AS 0", func(c *BirdConfig) { c.AS = 0 }, "as: must not be 0"},
		{"no families", func(c *BirdConfig) { c.Families = nil }, "families"},
		{"unknown family", func(c *BirdConfig) { c.Families = []string{"ipv4", "vpnv4"} }, `family "vpnv4"`},
		{"hold below 3", func(c *BirdConfig) { c.Timers.Hold = 2 }, "timers"},
		{"error wait max below min", func(c *BirdConfig) { c.Timers.ErrorWaitMax = 1 }, "timers"},
		{"bad name", func(c *BirdConfig) { c.Neighbors[0].Name = "node-1" }, `"node-1"`},
		{"duplicate name", func(c *BirdConfig) { c.Neighbors[1].Name = "node1" }, "used twice"},
		{"mixed families", func(c *BirdConfig) { c.Neighbors[0].Local = netip.MustParseAddr("fd99::1") }, "one family"},
		{"neighbour AS 0", func(c *BirdConfig) { c.Neighbors[0].AS = 0 }, "neighbor node1: as"},
		{"quote in password", func(c *BirdConfig) { c.Neighbors[1].Password = `a"b` }, "password"},
		{"bfd interval below 1ms", func(c *BirdConfig) { c.BFD = &BirdBFD{Interval: time.Microsecond, Multiplier: 3} }, "bfd"},
		{"bfd multiplier 0", func(c *BirdConfig) { c.BFD = &BirdBFD{Interval: time.Second} }, "bfd"},
		{"range without local", func(c *BirdConfig) {
			c.Ranges = []BirdRange{{Name: "dyn", Prefix: LANv4, AS: NodeAS}}
		}, "range dyn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.Neighbors = append([]BirdNeighbor(nil), good.Neighbors...)
			tc.mutate(&c)
			_, err := c.Render()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render: %v; want an error containing %q", err, tc.want)
			}
		})
	}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(explicitConfig): %v", err)
	}
	// Every mistake at once.
	bad := good
	bad.AS, bad.Families = 0, nil
	if err := bad.Validate(); err == nil || len(unwrapAll(err)) != 2 {
		t.Errorf("Validate with two mistakes: %v; want both", err)
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{errors.Unwrap(err)}
}

// showProtocols is `birdc show protocols` of the ToR with two stand-in
// speakers, as BIRD 2.0.12 printed it.
const showProtocols = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     15:45:30.110  
kernel_ipv4 Kernel     master4    up     15:45:30.110  
kernel_ipv6 Kernel     master6    up     15:45:30.110  
dyn4       BGP        ---        start  15:45:30.110  Passive       
dyn6       BGP        ---        start  15:45:30.110  Passive       
dyn6_1     BGP        ---        up     15:45:30.907  Established   
dyn4_1     BGP        ---        up     15:45:30.969  Established   
node9      BGP        ---        start  15:45:31.099  Active        Socket: Connection refused
`

func TestParseProtocols(t *testing.T) {
	got, err := parseProtocols(showProtocols)
	if err != nil {
		t.Fatal(err)
	}
	want := []BirdProtocol{
		{Name: "device1", Proto: "Device", Table: "---", State: "up", Since: "15:45:30.110"},
		{Name: "kernel_ipv4", Proto: "Kernel", Table: "master4", State: "up", Since: "15:45:30.110"},
		{Name: "kernel_ipv6", Proto: "Kernel", Table: "master6", State: "up", Since: "15:45:30.110"},
		{Name: "dyn4", Proto: "BGP", Table: "---", State: "start", Since: "15:45:30.110", Info: "Passive"},
		{Name: "dyn6", Proto: "BGP", Table: "---", State: "start", Since: "15:45:30.110", Info: "Passive"},
		{Name: "dyn6_1", Proto: "BGP", Table: "---", State: "up", Since: "15:45:30.907", Info: "Established"},
		{Name: "dyn4_1", Proto: "BGP", Table: "---", State: "up", Since: "15:45:30.969", Info: "Established"},
		{Name: "node9", Proto: "BGP", Table: "---", State: "start", Since: "15:45:31.099", Info: "Active Socket: Connection refused"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := parseProtocols("BIRD 2.0.12 ready.\nUnknown command\n"); err == nil {
		t.Error("parseProtocols accepted output without a header")
	}
}

func TestParseRouteAll(t *testing.T) {
	const out = `BIRD 2.0.12 ready.
Table master4:
10.99.201.7/32       unicast [ibgp4_1 05:30:01.123] * (100) [AS64513i]
	via 10.99.0.11 on eth0
	Type: BGP univ
	BGP.origin: IGP
	BGP.as_path: 
	BGP.next_hop: 10.99.0.11
	BGP.local_pref: 250
	BGP.community: (65535,65282)
                     unicast [dyn4_1 05:30:01.100] (100) [AS64513i]
	via 10.99.0.11 on eth0
	Type: BGP univ
	BGP.origin: IGP
	BGP.as_path: 64513
	BGP.next_hop: 10.99.0.11
	BGP.local_pref: 100
	BGP.large_community: (64512, 1, 2)
`
	paths := parseRouteAll(out)
	if len(paths) != 2 || paths[0].Protocol != "ibgp4_1" || paths[1].Protocol != "dyn4_1" {
		t.Fatalf("paths %+v", paths)
	}
	if v := paths[0].Attr("BGP.local_pref"); v != "250" {
		t.Errorf("local_pref %q", v)
	}
	if v := paths[0].Attr("BGP.community"); v != "(65535,65282)" {
		t.Errorf("community %q", v)
	}
	if v := paths[1].Attr("BGP.large_community"); v != "(64512, 1, 2)" {
		t.Errorf("large community %q", v)
	}
}
