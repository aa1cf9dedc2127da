package speaker

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/speaker/layer2"
)

// recordingSink records every config written.
type recordingSink struct{ writes [][]byte }

func (s *recordingSink) WriteConfig(b []byte) error {
	s.writes = append(s.writes, append([]byte(nil), b...))
	return nil
}

// vipFixture is node1's VIPMode over three members, every interface eth0,
// a recording sink and a temp track directory.
type vipFixture struct {
	mode  *VIPMode
	sink  *recordingSink
	pools []eippool.Pool
	vrids map[netip.Addr]keepalived.VRID
}

func newVIPFixture(t *testing.T) *vipFixture {
	dir := t.TempDir()
	settings := keepalived.DefaultSettings()
	settings.TrackDir = filepath.Join(dir, "track") // created by the mode
	f := &vipFixture{sink: &recordingSink{}, pools: pools(t), vrids: map[netip.Addr]keepalived.VRID{}}
	f.mode = &VIPMode{
		Node:     "node1",
		Settings: settings,
		Members:  threeNodes,
		Interfaces: func(pools []eippool.Pool) layer2.EipInterfaces {
			out := layer2.EipInterfaces{Available: map[string]string{}}
			for _, p := range pools {
				out.Available[p.Name] = "eth0"
			}
			return out
		},
		Sink: f.sink,
		Log:  logr.Discard(),
	}
	return f
}

// apply runs Compute and Apply for services, as the reconciler does.
func (f *vipFixture) apply(t *testing.T, services ...Service) {
	t.Helper()
	for _, s := range services {
		for i, a := range s.Addrs {
			if _, ok := f.vrids[a]; !ok {
				f.vrids[a] = keepalived.VRID(10 + i + len(f.vrids))
			}
		}
	}
	d := Compute("node1", f.pools, services, bgpconfig.ServiceCIDRs{})
	if err := f.mode.Apply(context.Background(), Snapshot{Pools: f.pools, VRIDs: f.vrids}, d); err != nil {
		t.Fatal(err)
	}
}

func (f *vipFixture) last(t *testing.T) string {
	t.Helper()
	if len(f.sink.writes) == 0 {
		t.Fatal("nothing written")
	}
	return string(f.sink.writes[len(f.sink.writes)-1])
}

// instances splits a rendered config into its blocks (track_file and
// vrrp_instance), keyed by their first line.
func instances(conf string) map[string]string {
	out := map[string]string{}
	for _, b := range strings.Split(conf, "\n\n")[1:] {
		out[strings.SplitN(b, "\n", 2)[0]] = b
	}
	return out
}

// TestVIPModeWritesOnChangeOnly: the first Apply writes the config, an
// identical one writes nothing, and a Service added changes nothing but
// its own instance, IPv4 and IPv6.
func TestVIPModeWritesOnChangeOnly(t *testing.T) {
	f := newVIPFixture(t)
	web := Service{Key: "a/web", Addrs: addrs("100.64.0.1", "2001:db8:1::1")}
	f.apply(t, web)
	if len(f.sink.writes) != 1 {
		t.Fatalf("first Apply wrote %d configs, want 1", len(f.sink.writes))
	}
	first := f.last(t)
	for _, want := range []string{"vrrp_instance vip_100.64.0.1 {", "vrrp_instance vip_2001:db8:1::1 {", "dev eth0"} {
		if !strings.Contains(first, want) {
			t.Errorf("config lacks %q:\n%s", want, first)
		}
	}
	f.apply(t, web)
	if len(f.sink.writes) != 1 {
		t.Fatalf("identical Apply wrote again: %d writes", len(f.sink.writes))
	}

	f.apply(t, web, Service{Key: "a/new", Addrs: addrs("100.64.0.2", "2001:db8:1::2")})
	if len(f.sink.writes) != 2 {
		t.Fatalf("Service added: %d writes, want 2", len(f.sink.writes))
	}
	before, after := instances(first), instances(f.last(t))
	for head, block := range before {
		if after[head] != block {
			t.Errorf("instance %q changed when another Service was added:\n%s\n---\n%s", head, block, after[head])
		}
	}
	if len(after) != len(before)+2 {
		t.Errorf("Service added: %d blocks, want %d:\n%s", len(after), len(before)+2, f.last(t))
	}
}

// TestVIPModeTrackFile: a Local VIP's track file says 0 while this node
// has a ready endpoint and flips to 1 when it leaves, written before the
// config drops the instance (keepalived still runs it until it reloads),
// then back to 0; a Local VIP this node never took part in gets no file.
func TestVIPModeTrackFile(t *testing.T) {
	f := newVIPFixture(t)
	dir := f.mode.Settings.TrackDir
	for _, vip := range []string{"100.64.0.5", "2001:db8:1::5"} {
		t.Run(vip, func(t *testing.T) {
			a := netip.MustParseAddr(vip)
			read := func() string {
				t.Helper()
				b, err := os.ReadFile(keepalived.TrackFilePath(dir, a))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			local := func(nodes ...string) Service {
				return Service{Key: "a/local", Addrs: []netip.Addr{a}, LocalTraffic: true, ReadyNodes: nodes}
			}
			f.apply(t, local("node2"))
			if _, err := os.Stat(keepalived.TrackFilePath(dir, a)); !os.IsNotExist(err) {
				t.Fatalf("track file of a VIP this node never ran: %v", err)
			}
			f.apply(t, local("node1", "node2"))
			if got := read(); got != "0\n" {
				t.Errorf("endpoint here: track file %q, want 0", got)
			}
			if !strings.Contains(f.last(t), "vrrp_instance "+keepalived.InstanceName(a)) {
				t.Errorf("endpoint here: no instance:\n%s", f.last(t))
			}
			writes := len(f.sink.writes)
			f.apply(t, local("node2"))
			if got := read(); got != "1\n" {
				t.Errorf("endpoint gone: track file %q, want 1", got)
			}
			if len(f.sink.writes) != writes+1 || strings.Contains(f.last(t), "vrrp_instance "+keepalived.InstanceName(a)) {
				t.Errorf("endpoint gone: the instance should leave the config")
			}
			f.apply(t, local("node1"))
			if got := read(); got != "0\n" {
				t.Errorf("endpoint back: track file %q, want 0", got)
			}
			f.apply(t) // Service gone: its file is pruned
			if _, err := os.Stat(keepalived.TrackFilePath(dir, a)); !os.IsNotExist(err) {
				t.Errorf("Service gone: track file left: %v", err)
			}
		})
	}
}

// TestVIPModeWaitsForOwnMembership: until this node is among the members,
// nothing is written, so a restarting speaker that has not seen its own
// Lease yet moves no VIP away from this node.
func TestVIPModeWaitsForOwnMembership(t *testing.T) {
	f := newVIPFixture(t)
	f.mode.Members = func() []VIPMember { return []VIPMember{member("node2", "10.0.0.2")} }
	f.apply(t, Service{Key: "a/web", Addrs: addrs("100.64.0.1")})
	if len(f.sink.writes) != 0 {
		t.Fatalf("wrote a config before this node was a member:\n%s", f.last(t))
	}
	f.mode.Members = threeNodes
	f.apply(t, Service{Key: "a/web", Addrs: addrs("100.64.0.1")})
	if len(f.sink.writes) != 1 {
		t.Fatalf("%d writes once a member, want 1", len(f.sink.writes))
	}
}

// TestVIPModeShutdownWritesNothing: Shutdown leaves keepalived's config
// and the track files alone; a speaker restart must not move a VIP.
func TestVIPModeShutdownWritesNothing(t *testing.T) {
	f := newVIPFixture(t)
	f.apply(t, Service{Key: "a/web", Addrs: addrs("100.64.0.1"), LocalTraffic: true, ReadyNodes: []string{"node1"}})
	path := keepalived.TrackFilePath(f.mode.Settings.TrackDir, netip.MustParseAddr("100.64.0.1"))
	if err := f.mode.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.sink.writes) != 1 {
		t.Errorf("Shutdown wrote a config: %d writes", len(f.sink.writes))
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "0\n" {
		t.Errorf("track file after Shutdown: %q, %v; want 0", b, err)
	}
}

// TestFileConfigSink: the config lands whole at the path, unchanged
// content is not rewritten (the file is not replaced), and no temp file
// is left behind.
func TestFileConfigSink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	sink := FileConfigSink{Path: path}
	if err := sink.WriteConfig([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	st1, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.WriteConfig([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	st2, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(st1, st2) {
		t.Error("unchanged content replaced the file")
	}
	if err := sink.WriteConfig([]byte("two\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two\n" {
		t.Errorf("content %q, want two", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the config: %v", len(entries), entries)
	}
	if err := (FileConfigSink{Path: filepath.Join(dir, "missing", "keepalived.conf")}).WriteConfig([]byte("x")); err == nil {
		t.Error("write into a missing directory: no error")
	}
}

// TestVIPModeLogsProblemsOncePerChange: a VIP without a VRID is logged
// once, not on every reconcile, and again only when the problems change.
func TestVIPModeLogsProblemsOncePerChange(t *testing.T) {
	f := newVIPFixture(t)
	var lines []string
	f.mode.Log = funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{})
	svc := Service{Key: "a/web", Addrs: addrs("2001:db8:1::7")}
	d := Compute("node1", f.pools, []Service{svc}, bgpconfig.ServiceCIDRs{})
	snap := Snapshot{Pools: f.pools, VRIDs: map[netip.Addr]keepalived.VRID{}}
	for range 3 {
		if err := f.mode.Apply(context.Background(), snap, d); err != nil {
			t.Fatal(err)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], problemNoVRID) || !strings.Contains(lines[0], `"ip"="2001:db8:1::7"`) {
		t.Fatalf("after three reconciles without a VRID, logged %q; want one line naming the VIP", lines)
	}
	snap.VRIDs[netip.MustParseAddr("2001:db8:1::7")] = 3
	for range 2 {
		if err := f.mode.Apply(context.Background(), snap, d); err != nil {
			t.Fatal(err)
		}
	}
	if len(lines) != 2 || !strings.Contains(lines[1], "every vip is served") {
		t.Errorf("after the VRID came, logged %q; want one more line", lines)
	}
}

// TestVIPModeNoTrackDirNoConfig: when the track directory cannot be
// created, no config naming it is written (keepalived would drop its track
// files and hold Local VIPs without endpoints), and Apply says why.
func TestVIPModeNoTrackDirNoConfig(t *testing.T) {
	f := newVIPFixture(t)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f.mode.TrackDir = filepath.Join(blocker, "track")
	svc := Service{Key: "a/web", Addrs: addrs("100.64.0.1"), LocalTraffic: true, ReadyNodes: []string{"node1"}}
	f.vrids[netip.MustParseAddr("100.64.0.1")] = 1
	d := Compute("node1", f.pools, []Service{svc}, bgpconfig.ServiceCIDRs{})
	err := f.mode.Apply(context.Background(), Snapshot{Pools: f.pools, VRIDs: f.vrids}, d)
	if err == nil || !strings.Contains(err.Error(), "track directory") {
		t.Errorf("Apply = %v; want an error about the track directory", err)
	}
	if len(f.sink.writes) != 0 {
		t.Errorf("wrote a config naming a missing track directory:\n%s", f.last(t))
	}
}
