package probelog

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is an arbitrary instant; at(ms) is t0 plus ms milliseconds.
var t0 = time.Unix(1_700_000_000, 0)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// nsStr is at(ms) as the prober prints it.
func nsStr(ms int) string { return strconv.FormatInt(at(ms).UnixNano(), 10) }

func TestParseHTTP(t *testing.T) {
	log := "=== 2026-01-01T00:00:00Z: ip netns exec he2e-1-client probe -http http://10.99.0.200/\n" +
		"# ready " + nsStr(0) + "\n" +
		nsStr(20) + " " + nsStr(22) + " ok node2\n" +
		nsStr(10) + " " + nsStr(210) + " fail Get_\"http://10.99.0.200/\":_context_deadline_exceeded\n" +
		nsStr(30) + " " + nsStr(31) + " ok\n" +
		nsStr(40) + " " + nsStr(41) + " fail Get_\"http://10.99.0.200/\":_dial_tcp_10.99.0.200:80:_connect:_connection_refused\n"
	if !Ready(log) {
		t.Errorf("Ready = false, want true")
	}
	got, err := ParseHTTP(log)
	if err != nil {
		t.Fatal(err)
	}
	want := []HTTP{
		{Sent: at(20), Done: at(22), OK: true, Detail: "node2"},
		{Sent: at(30), Done: at(31), OK: true},
		{Sent: at(40), Done: at(41), Detail: `Get_"http://10.99.0.200/":_dial_tcp_10.99.0.200:80:_connect:_connection_refused`},
		{Sent: at(10), Done: at(210), Detail: `Get_"http://10.99.0.200/":_context_deadline_exceeded`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseHTTP (-want +got):\n%s", diff)
	}
	var refused []bool
	for _, p := range got {
		refused = append(refused, p.Refused())
	}
	if diff := cmp.Diff([]bool{false, false, true, false}, refused); diff != "" {
		t.Errorf("Refused (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"x y ok\n", nsStr(1) + " " + nsStr(2) + " maybe\n", "probe: -interval must be positive\n"} {
		if _, err := ParseHTTP(bad); err == nil {
			t.Errorf("ParseHTTP(%q): no error", bad)
		}
	}
}

func TestOutage(t *testing.T) {
	ok := func(done int) HTTP { return HTTP{Sent: at(done - 1), Done: at(done), OK: true} }
	fail := func(sent int) HTTP { return HTTP{Sent: at(sent), Done: at(sent + 200)} }
	probes := []HTTP{ok(0), ok(10), ok(20), ok(1500), ok(1510), ok(1530), ok(3000)}
	probes = append(probes, fail(30), fail(40), fail(1400)) // ParseHTTP sorts by done; Outage needs only the successes sorted
	for _, tc := range []struct {
		name      string
		at, until int
		want      Gap
		ok        bool
	}{
		{"outage after the event", 25, 2000, Gap{D: 1480 * time.Millisecond, From: at(20), To: at(1500), Failed: 3}, true},
		{"until bounds the window", 1505, 2000, Gap{D: 20 * time.Millisecond, From: at(1510), To: at(1530)}, true},
		{"a pause without failures", 1600, 3000, Gap{D: 1470 * time.Millisecond, From: at(1530), To: at(3000)}, true},
		{"nothing before", -5, 2000, Gap{}, false},
		{"nothing after", 3001, 4000, Gap{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Outage(probes, at(tc.at), at(tc.until))
			if ok != tc.ok || (ok && (got.D != tc.want.D || !got.From.Equal(tc.want.From) || !got.To.Equal(tc.want.To) || got.Failed != tc.want.Failed)) {
				t.Errorf("Outage = %v from %v to %v (%d failed), ok %v; want %v from %v to %v (%d failed), ok %v",
					got.D, got.From.Sub(t0), got.To.Sub(t0), got.Failed, ok, tc.want.D, tc.want.From.Sub(t0), tc.want.To.Sub(t0), tc.want.Failed, tc.ok)
			}
		})
	}
	if failed, sent := Failed(probes, at(25), at(1500)); failed != 3 || sent != 4 {
		t.Errorf("Failed(25 ms, 1500 ms) = %d of %d, want 3 of 4", failed, sent)
	}
	first, found := First(probes, at(25), HTTP.Refused)
	if found {
		t.Errorf("First(refused) = %+v, want none", first)
	}
	if first, found = First(probes, at(25), func(p HTTP) bool { return p.OK }); !found || !first.Sent.Equal(at(1499)) {
		t.Errorf("First(ok since 25 ms) = %+v, %v; want the one sent at 1499 ms", first, found)
	}
}

func TestSendPause(t *testing.T) {
	probes := []HTTP{{Sent: at(30)}, {Sent: at(0)}, {Sent: at(10)}, {Sent: at(95)}, {Sent: at(100)}}
	if got, want := SendPause(probes), 65*time.Millisecond; got != want {
		t.Errorf("SendPause = %v, want %v", got, want)
	}
	if got := SendPause(nil); got != 0 {
		t.Errorf("SendPause(nil) = %v, want 0", got)
	}
}

func TestOKRun(t *testing.T) {
	log := "# ready " + nsStr(0) + "\n" +
		nsStr(10) + " " + nsStr(11) + " ok\n" +
		nsStr(20) + " " + nsStr(25) + " fail no_route\n" +
		nsStr(30) + " " + nsStr(31) + " ok\n" +
		nsStr(40) + " " + nsStr(41) + " ok\n"
	if err := OKRun(at(0), 3)(log); err == nil {
		t.Errorf("OKRun(0, 3): nil, want an error (the failure at 25 ms breaks the run)")
	}
	if err := OKRun(at(25), 2)(log); err != nil {
		t.Errorf("OKRun(25 ms, 2): %v", err)
	}
	if err := OKRun(at(0), 1)("no ready line\n"); err == nil {
		t.Errorf("OKRun before the prober is ready: nil, want an error")
	}
}

func TestParseARP(t *testing.T) {
	log := "# ready " + nsStr(0) + "\n" +
		nsStr(15) + " reply 02:99:00:00:00:0c\n" +
		nsStr(12) + " garp 02:99:00:00:00:0c\n"
	got, err := ParseARP(log)
	if err != nil {
		t.Fatal(err)
	}
	want := []ARP{{At: at(12), GARP: true, MAC: "02:99:00:00:00:0c"}, {At: at(15), MAC: "02:99:00:00:00:0c"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseARP (-want +got):\n%s", diff)
	}
	if a, ok := FirstARP(got, false, at(0)); !ok || !a.At.Equal(at(15)) {
		t.Errorf("FirstARP(reply) = %v, %v; want the reply at 15 ms", a, ok)
	}
	if _, ok := FirstARP(got, true, at(13)); ok {
		t.Errorf("FirstARP(garp, since 13 ms) found one; want none")
	}
	if _, err := ParseARP(nsStr(1) + " who-has 02:99:00:00:00:0c\n"); err == nil {
		t.Errorf("ParseARP(who-has): no error")
	}
}

func TestGapListAndDurations(t *testing.T) {
	gs := []Gap{{D: 2700 * time.Millisecond, Failed: 270}, {D: 12400 * time.Microsecond}}
	if got := GapList(gs); got != "[2700/270 12/0]" {
		t.Errorf("GapList = %q", got)
	}
	if got := Durations(gs); len(got) != 2 || got[0] != 2700*time.Millisecond || got[1] != 12400*time.Microsecond {
		t.Errorf("Durations = %v", got)
	}
	if GapList(nil) != "[]" || len(Durations(nil)) != 0 {
		t.Error("empty input")
	}
}
