package layer2

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is an arbitrary instant; at(ms) is t0 plus ms milliseconds.
var t0 = time.Unix(1_700_000_000, 0)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestParseHTTPProbes(t *testing.T) {
	log := "=== 2026-01-01T00:00:00Z: ip netns exec he2e-1-client probe -http http://10.99.0.200/\n" +
		"# ready " + nsStr(0) + "\n" +
		nsStr(20) + " " + nsStr(22) + " ok node2\n" +
		nsStr(10) + " " + nsStr(210) + " fail Get_\"http://10.99.0.200/\":_context_deadline_exceeded\n" +
		nsStr(30) + " " + nsStr(31) + " ok\n"
	if !probeReady(log) {
		t.Errorf("probeReady = false, want true")
	}
	got, err := parseHTTPProbes(log)
	if err != nil {
		t.Fatal(err)
	}
	want := []httpProbe{
		{sent: at(20), done: at(22), ok: true, detail: "node2"},
		{sent: at(30), done: at(31), ok: true},
		{sent: at(10), done: at(210), detail: `Get_"http://10.99.0.200/":_context_deadline_exceeded`},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(httpProbe{})); diff != "" {
		t.Errorf("parseHTTPProbes (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"x y ok\n", nsStr(1) + " " + nsStr(2) + " maybe\n", "probe: -interval must be positive\n"} {
		if _, err := parseHTTPProbes(bad); err == nil {
			t.Errorf("parseHTTPProbes(%q): no error", bad)
		}
	}
}

func TestParseARPAnswers(t *testing.T) {
	log := "# ready " + nsStr(0) + "\n" +
		nsStr(15) + " reply 02:99:00:00:00:0c\n" +
		nsStr(12) + " garp 02:99:00:00:00:0c\n"
	got, err := parseARPAnswers(log)
	if err != nil {
		t.Fatal(err)
	}
	want := []arpAnswer{{at: at(12), garp: true, mac: "02:99:00:00:00:0c"}, {at: at(15), mac: "02:99:00:00:00:0c"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(arpAnswer{})); diff != "" {
		t.Errorf("parseARPAnswers (-want +got):\n%s", diff)
	}
	if a, ok := firstAnswer(got, false, at(0)); !ok || !a.at.Equal(at(15)) {
		t.Errorf("firstAnswer(reply) = %v, %v; want the reply at 15 ms", a, ok)
	}
	if _, ok := firstAnswer(got, true, at(13)); ok {
		t.Errorf("firstAnswer(garp, since 13 ms) found one; want none")
	}
	if _, err := parseARPAnswers(nsStr(1) + " who-has 02:99:00:00:00:0c\n"); err == nil {
		t.Errorf("parseARPAnswers(who-has): no error")
	}
}

func TestOutage(t *testing.T) {
	ok := func(done int) httpProbe { return httpProbe{sent: at(done - 1), done: at(done), ok: true} }
	fail := func(sent int) httpProbe { return httpProbe{sent: at(sent), done: at(sent + 200)} }
	probes := []httpProbe{ok(0), ok(10), ok(20), ok(1500), ok(1510), ok(1530), ok(3000)}
	probes = append(probes, fail(30), fail(40), fail(1400)) // parseHTTPProbes sorts by done; outage needs only the successes sorted
	for _, tc := range []struct {
		name      string
		at, until int
		want      gap
		ok        bool
	}{
		{"outage after the event", 25, 2000, gap{d: 1480 * time.Millisecond, from: at(20), to: at(1500), failed: 3}, true},
		{"until bounds the window", 1505, 2000, gap{d: 20 * time.Millisecond, from: at(1510), to: at(1530)}, true},
		{"a pause without failures", 1600, 3000, gap{d: 1470 * time.Millisecond, from: at(1530), to: at(3000)}, true},
		{"nothing before", -5, 2000, gap{}, false},
		{"nothing after", 3001, 4000, gap{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := outage(probes, at(tc.at), at(tc.until))
			if ok != tc.ok || (ok && (got.d != tc.want.d || !got.from.Equal(tc.want.from) || !got.to.Equal(tc.want.to) || got.failed != tc.want.failed)) {
				t.Errorf("outage = %v from %v to %v (%d failed), ok %v; want %v from %v to %v (%d failed), ok %v",
					got.d, got.from.Sub(t0), got.to.Sub(t0), got.failed, ok, tc.want.d, tc.want.from.Sub(t0), tc.want.to.Sub(t0), tc.want.failed, tc.ok)
			}
		})
	}
}

func TestSendPause(t *testing.T) {
	probes := []httpProbe{{sent: at(30)}, {sent: at(0)}, {sent: at(10)}, {sent: at(95)}, {sent: at(100)}}
	if got, want := sendPause(probes), 65*time.Millisecond; got != want {
		t.Errorf("sendPause = %v, want %v", got, want)
	}
	if got := sendPause(nil); got != 0 {
		t.Errorf("sendPause(nil) = %v, want 0", got)
	}
}

// nsStr is at(ms) as the prober prints it.
func nsStr(ms int) string { return strconv.FormatInt(at(ms).UnixNano(), 10) }
