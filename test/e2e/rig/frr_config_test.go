package rig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// frrGoldenCases are the configurations the golden files pin: the
// default eBGP ToR, and iBGP over IPv4 only with a passive BFD profile.
var frrGoldenCases = []struct {
	golden string
	opts   FRROptions
}{
	{"frr-ebgp", FRROptions{}},
	{"frr-ibgp-bfd", FRROptions{
		IBGP: true, Families: []string{"ipv4"}, Keepalive: 1, Hold: 3, MaximumPaths: 4, NoGracefulRestart: true,
		BFD: FRRBFD{Enabled: true, TransmitInterval: 50 * time.Millisecond, ReceiveInterval: 200 * time.Millisecond, DetectMultiplier: 5, Passive: true},
	}},
}

func TestFRRConfigGolden(t *testing.T) {
	plan, err := NewPlan("he2e-1-1-", 3)
	if err != nil {
		t.Fatal(err)
	}
	host := lanHost(plan.Prefix, FRRHostName, FRRHostID)
	for _, tc := range frrGoldenCases {
		cfg, err := frrConfigFor(tc.opts, host)
		if err != nil {
			t.Fatal(err)
		}
		confs, err := cfg.render()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range frrDaemons {
			t.Run(tc.golden+"/"+d, func(t *testing.T) {
				path := filepath.Join("testdata", tc.golden+"-"+d+".conf")
				if *update {
					if err := os.WriteFile(path, confs[d], 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), string(confs[d])); diff != "" {
					t.Errorf("%s (-want +got):\n%s", path, diff)
				}
				checkFRRDryRun(t, d, path)
			})
		}
	}
}

// checkFRRDryRun has the daemon itself parse the file (-C), when FRR is
// installed and we are root (it switches to the user given). A dry run
// exits 0 even on unknown commands, so its log is what tells.
func checkFRRDryRun(t *testing.T, daemon, path string) {
	t.Helper()
	if FRRAvailable() != nil || os.Geteuid() != 0 {
		t.Logf("frr not installed or not root: %s not checked by %s -C", path, daemon)
		return
	}
	dir := t.TempDir()
	out, err := exec.Command(filepath.Join(frrDaemonDir, daemon), "-C", "-u", "root", "-g", "frrvty", "-P", "0",
		"-f", path, "-i", filepath.Join(dir, "pid"), "-z", filepath.Join(dir, "zserv.api"),
		"--vty_socket", dir, "--log", "stdout").CombinedOutput()
	if err != nil || strings.Contains(string(out), "config line") {
		t.Errorf("%s -C -f %s: %v\n%s", daemon, path, err, out)
	}
}

func TestFRRConfigValidate(t *testing.T) {
	host := lanHost("he2e-1-1-", FRRHostName, FRRHostID)
	for _, tc := range []struct {
		name string
		opts FRROptions
		want string
	}{
		{"hold below 3", FRROptions{Hold: 2, Keepalive: 1}, "timers"},
		{"keepalive above hold", FRROptions{Hold: 9, Keepalive: 10}, "timers"},
		{"maximum paths", FRROptions{MaximumPaths: 300}, "maximum paths"},
		{"bfd interval too short", FRROptions{BFD: FRRBFD{TransmitInterval: time.Millisecond}}, "bfd interval 1ms"},
		{"bfd interval not whole ms", FRROptions{BFD: FRRBFD{ReceiveInterval: 1500 * time.Microsecond}}, "bfd interval"},
		{"bfd multiplier", FRROptions{BFD: FRRBFD{DetectMultiplier: 1}}, "multiplier"},
		{"no families", FRROptions{Families: []string{}}, "families"},
		{"unknown family", FRROptions{Families: []string{"vpnv4"}}, `family "vpnv4"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := frrConfigFor(tc.opts, host)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("frrConfigFor: %v; want an error containing %q", err, tc.want)
			}
		})
	}
	cfg, err := frrConfigFor(FRROptions{IBGP: true, AS: 65000, PeerAS: 65001}, host)
	if err != nil || cfg.AS != 65001 || cfg.PeerAS != "internal" {
		t.Errorf("iBGP: AS %d peer %q, %v; want FRR in the peers' AS 65001, remote-as internal", cfg.AS, cfg.PeerAS, err)
	}
}
