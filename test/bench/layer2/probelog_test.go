package layer2

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// The probe command's output (test/e2e/cmd/probe), read back from its log
// in the rig's state dir. Timestamps are the prober's wall clock, the same
// machine's as the benchmark's.

// httpProbe is one HTTP probe: "<sent> <done> ok|fail <detail>".
type httpProbe struct {
	sent, done time.Time
	ok         bool
	detail     string
}

// arpAnswer is one ARP answer: "<at> reply|garp <mac>".
type arpAnswer struct {
	at   time.Time
	garp bool
	mac  string
}

// probeLines returns the observation lines of a probe log: not the rig's
// "===" headers, nor the prober's "#" notes.
func probeLines(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "===") || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// probeReady reports whether the prober said it starts probing.
func probeReady(log string) bool {
	return strings.Contains(log, "\n# ready ") || strings.HasPrefix(log, "# ready ")
}

func parseHTTPProbes(log string) ([]httpProbe, error) {
	var out []httpProbe
	for _, line := range probeLines(log) {
		f := strings.SplitN(line, " ", 4)
		if len(f) < 3 || (f[2] != "ok" && f[2] != "fail") {
			return nil, fmt.Errorf("http probe line %q: want <sent> <done> ok|fail [detail]", line)
		}
		sent, err1 := unixNano(f[0])
		done, err2 := unixNano(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("http probe line %q: bad timestamp", line)
		}
		p := httpProbe{sent: sent, done: done, ok: f[2] == "ok"}
		if len(f) == 4 {
			p.detail = f[3]
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b httpProbe) int { return a.done.Compare(b.done) })
	return out, nil
}

func parseARPAnswers(log string) ([]arpAnswer, error) {
	var out []arpAnswer
	for _, line := range probeLines(log) {
		f := strings.Fields(line)
		if len(f) != 3 || (f[1] != "reply" && f[1] != "garp") {
			return nil, fmt.Errorf("arp probe line %q: want <at> reply|garp <mac>", line)
		}
		at, err := unixNano(f[0])
		if err != nil {
			return nil, fmt.Errorf("arp probe line %q: bad timestamp", line)
		}
		out = append(out, arpAnswer{at: at, garp: f[1] == "garp", mac: f[2]})
	}
	slices.SortFunc(out, func(a, b arpAnswer) int { return a.at.Compare(b.at) })
	return out, nil
}

func unixNano(s string) (time.Time, error) {
	ns, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, ns), nil
}

// gap is the client's view of an event: the longest time between two
// consecutive successful probes (by completion), and how many probes sent
// in between failed. A long gap without failures means the prober itself
// was not scheduled, not that the address went dark.
type gap struct {
	d        time.Duration
	from, to time.Time
	failed   int
}

// outage is the gap around an event at `at`: from the last success that
// completed before at, through every success that completed by until.
// ok is false without a success on either side.
func outage(probes []httpProbe, at, until time.Time) (g gap, ok bool) {
	var prev time.Time
	after := false
	for _, p := range probes {
		if !p.ok || p.done.After(until) {
			continue
		}
		if p.done.Before(at) {
			prev = p.done
			continue
		}
		if prev.IsZero() {
			return gap{}, false
		}
		if d := p.done.Sub(prev); d > g.d {
			g = gap{d: d, from: prev, to: p.done}
		}
		prev, after = p.done, true
	}
	for _, p := range probes {
		if !p.ok && !p.sent.Before(g.from) && p.sent.Before(g.to) {
			g.failed++
		}
	}
	return g, after
}

// sendPause is the longest time between two consecutive probes sent: the
// prober's own hiccups (it sends every 10 ms when it gets the CPU).
func sendPause(probes []httpProbe) time.Duration {
	sent := make([]time.Time, 0, len(probes))
	for _, p := range probes {
		sent = append(sent, p.sent)
	}
	slices.SortFunc(sent, time.Time.Compare)
	var longest time.Duration
	for i := 1; i < len(sent); i++ {
		longest = max(longest, sent[i].Sub(sent[i-1]))
	}
	return longest
}

// firstAnswer is the first reply (garp false) or gratuitous ARP (garp
// true) at or after since.
func firstAnswer(answers []arpAnswer, garp bool, since time.Time) (arpAnswer, bool) {
	for _, a := range answers {
		if a.garp == garp && !a.at.Before(since) {
			return a, true
		}
	}
	return arpAnswer{}, false
}

// waitLog polls a prober's log until done accepts its contents.
func waitLog(ctx context.Context, p *rig.Proc, timeout time.Duration, done func(log string) error) error {
	err := rig.Eventually(ctx, timeout, 10*time.Millisecond, func(context.Context) error {
		if !p.Running() {
			return fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), p.Tail(5))
		}
		data, err := os.ReadFile(p.Log)
		if err != nil {
			return err
		}
		return done(string(data))
	})
	if err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	return nil
}

// stopProbe stops a prober and returns its whole log.
func stopProbe(p *rig.Proc) (string, error) {
	if err := p.Stop(2 * time.Second); err != nil {
		return "", err
	}
	data, err := os.ReadFile(p.Log)
	return string(data), err
}
