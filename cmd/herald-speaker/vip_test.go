package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

func parseVIPFlags(t *testing.T, args ...string) vipFlags {
	t.Helper()
	var v vipFlags
	fs := flag.NewFlagSet("herald-speaker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v.bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return v
}

// TestVIPFlagsSettings: the flags' defaults are keepalived's default
// settings in vipdir's default directory (the one herald-keepalived uses
// without flags), and each flag lands in its field.
func TestVIPFlagsSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want func(*keepalived.Settings)
	}{
		{"defaults", nil, func(*keepalived.Settings) {}},
		{"every flag", []string{"--vrrp-advert-interval=100ms", "--vrrp-preempt-delay=30s", "--vrrp-unicast", "--vrrp-participants=5"},
			func(s *keepalived.Settings) {
				s.AdvertInterval, s.PreemptDelay, s.Unicast, s.Participants = 100*time.Millisecond, 30*time.Second, true, 5
			}},
		{"another directory", []string{"--vip-dir=/var/lib/herald/vip"}, func(s *keepalived.Settings) {
			s.TrackDir, s.NotifyFIFO = "/var/lib/herald/vip/track", "/var/lib/herald/vip/notify.fifo"
		}},
		{"one participant, multicast", []string{"--vrrp-participants=1"}, func(s *keepalived.Settings) { s.Participants = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVIPFlags(t, tc.args...).settings()
			if err != nil {
				t.Fatal(err)
			}
			want := keepalived.DefaultSettings()
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
	if v := parseVIPFlags(t); v.dir != vipdir.DefaultDir || v.statePoll != 500*time.Millisecond {
		t.Errorf("--vip-dir %q, --vip-state-poll %v by default", v.dir, v.statePoll)
	}
}

// TestVIPFlagsRefused: a value keepalived would refuse or silently change
// fails startup with an error naming the flag, and every wrong flag is
// named at once.
func TestVIPFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--vrrp-advert-interval=5ms"}, []string{"--vrrp-advert-interval=5ms"}},
		{[]string{"--vrrp-advert-interval=-1s"}, []string{"--vrrp-advert-interval=-1s"}},
		{[]string{"--vrrp-advert-interval=1m"}, []string{"--vrrp-advert-interval=1m0s"}},
		{[]string{"--vrrp-preempt-delay=-1s"}, []string{"--vrrp-preempt-delay=-1s"}},
		{[]string{"--vrrp-preempt-delay=2000s"}, []string{"--vrrp-preempt-delay=33m20s"}},
		{[]string{"--vrrp-participants=0"}, []string{"--vrrp-participants=0"}},
		{[]string{"--vrrp-participants=1000"}, []string{"--vrrp-participants=1000"}},
		{[]string{"--vrrp-unicast", "--vrrp-participants=1"}, []string{"--vrrp-participants=1 with --vrrp-unicast=true", "unicast needs at least 2"}},
		{[]string{"--vip-dir=relative/dir"}, []string{"--vip-dir=relative/dir"}},
		{[]string{"--vip-state-poll=0s"}, []string{"--vip-state-poll=0s"}},
		{[]string{"--vip-dir=rel", "--vrrp-advert-interval=15ms"}, []string{"--vip-dir=rel", "--vrrp-advert-interval=15ms"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseVIPFlags(t, tc.args...).settings()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			// Only the wrong flags are named (the unicast row names two).
			named := len(tc.args)
			if n := strings.Count(err.Error(), "--"); n != named {
				t.Errorf("error %q names %d flags, want %d", err, n, named)
			}
		})
	}
}
