package layer2

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestResponderAnnounces checks the announcement schedule with a fake
// clock: at once on gaining an address, then the configured repeats at the
// configured interval, then refreshes, and again from the start on
// Announce.
func TestResponderAnnounces(t *testing.T) {
	const (
		repeats  = 3
		interval = 250 * time.Millisecond
		refresh  = 10 * time.Second
	)
	tests := []struct {
		name string
		addr netip.Addr
		ndp  bool
		want []sentFrame // one announcement
	}{
		{name: "v4 gratuitous ARP, request and reply", addr: rtVIP4, want: wantGARP(rtVIP4)},
		{name: "v6 unsolicited neighbor advertisement", addr: rtVIP6, ndp: true, want: wantUnsolicitedNA(rtVIP6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newRespHarness(t, ResponderOptions{AnnounceRepeats: repeats, AnnounceInterval: interval, RefreshInterval: refresh})
			conn, other := h.arp, h.ndp
			if tc.ndp {
				conn, other = h.ndp, h.arp
			}
			per := len(tc.want)
			// expect checks that exactly n announcements were sent so far,
			// waiting for the announcer goroutine when it has work to do.
			expect := func(what string, n int) {
				t.Helper()
				respWait(t, 5*time.Second, what, func() bool { return conn.count() >= n*per })
				if diff := cmp.Diff(repeatFrames(tc.want, n), conn.sent(t)); diff != "" {
					t.Fatalf("%s: frames (-want +got):\n%s", what, diff)
				}
			}

			if err := h.r.SetOwned([]netip.Addr{tc.addr}); err != nil {
				t.Fatalf("SetOwned: %v", err)
			}
			// Sent before SetOwned returns: no waiting.
			if diff := cmp.Diff(tc.want, conn.sent(t)); diff != "" {
				t.Fatalf("first announcement (-want +got):\n%s", diff)
			}
			for i := 1; i <= repeats; i++ {
				h.clock.Step(interval)
				expect("repeat", 1+i)
			}
			// The repeats are done: the next announcement is the refresh.
			h.clock.Step(refresh - interval)
			if got := conn.count(); got != (1+repeats)*per {
				t.Fatalf("%d frames before the refresh was due, want %d", got, (1+repeats)*per)
			}
			h.clock.Step(interval)
			expect("first refresh", 2+repeats)
			h.clock.Step(refresh)
			expect("second refresh", 3+repeats)

			// Announce sends at once and starts the repeats again.
			if err := h.r.Announce(tc.addr); err != nil {
				t.Fatalf("Announce: %v", err)
			}
			expect("forced announcement", 4+repeats)
			h.clock.Step(interval)
			expect("repeat after Announce", 5+repeats)

			if n := other.count(); n != 0 {
				t.Errorf("%d frames on the other protocol's socket", n)
			}
			c := h.r.Counters()
			if got, want := c.GratuitousARPs+c.UnsolicitedNAs, uint64((5+repeats)*per); got != want {
				t.Errorf("announcement counters %+v, want %d frames in all", c, want)
			}
		})
	}
}

// TestResponderAnnounceDefaults checks the documented defaults and the
// opt-outs.
func TestResponderAnnounceDefaults(t *testing.T) {
	got := responderDefaults(ResponderOptions{})
	if got.AnnounceRepeats != 2 || got.AnnounceInterval != time.Second || got.RefreshInterval != 30*time.Second {
		t.Errorf("defaults: repeats %d, interval %v, refresh %v; want 2, 1s, 30s",
			got.AnnounceRepeats, got.AnnounceInterval, got.RefreshInterval)
	}
	for range 100 {
		if j := got.jitter(got.RefreshInterval); j > 30*time.Second || j < 27*time.Second {
			t.Fatalf("jittered refresh %v, want within [27s, 30s]", j)
		}
	}

	// No repeats, no refresh: one announcement, then nothing scheduled.
	h := newRespHarness(t, ResponderOptions{AnnounceRepeats: -1, RefreshInterval: -1})
	if err := h.r.SetOwned([]netip.Addr{rtVIP4}); err != nil {
		t.Fatalf("SetOwned: %v", err)
	}
	if h.clock.HasWaiters() {
		t.Error("an announcement is scheduled with repeats and refresh off")
	}
	h.clock.Step(time.Hour)
	if n := h.arp.count(); n != 2 {
		t.Errorf("%d frames, want the 2 of the first announcement only", n)
	}
}

// TestResponderAnnounceWriteError checks that a failed first announcement
// is reported by SetOwned and counted, and that the repeat goes out.
func TestResponderAnnounceWriteError(t *testing.T) {
	h := newRespHarness(t, ResponderOptions{})
	h.arp.writeErr = errSendTest
	err := h.r.SetOwned([]netip.Addr{rtVIP4})
	if err == nil || err.Error() != `interface "eth-test": send gratuitous ARP request for 192.0.2.100: test send failure`+"\n"+
		`interface "eth-test": send gratuitous ARP reply for 192.0.2.100: test send failure` {
		t.Errorf("SetOwned error: %v", err)
	}
	if c := h.r.Counters(); c.WriteErrors != 2 || c.GratuitousARPs != 0 {
		t.Errorf("counters %+v, want 2 write errors and no gratuitous ARP", c)
	}
	h.arp.mu.Lock()
	h.arp.writeErr = nil
	h.arp.mu.Unlock()
	h.clock.Step(time.Second)
	respWait(t, 5*time.Second, "the repeat", func() bool { return h.arp.count() == 2 })
}

// repeatFrames returns n copies of one announcement.
func repeatFrames(one []sentFrame, n int) []sentFrame {
	var out []sentFrame
	for range n {
		out = append(out, slices.Clone(one)...)
	}
	return out
}
