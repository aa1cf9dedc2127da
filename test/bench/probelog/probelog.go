// Package probelog reads the output of test/e2e/cmd/probe, the client-side
// prober of the e2e testbed, back from its log in the rig's state dir, for
// the benchmarks that measure what clients see (test/bench/vip): one line
// per observation with the prober's wall-clock timestamps, the same
// machine's clock as the benchmark's. The parsers are pure and have unit
// tests that run anywhere; Wait and Stop drive a running prober.
package probelog

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// HTTP is one HTTP probe: "<sent> <done> ok|fail <detail>".
type HTTP struct {
	Sent, Done time.Time
	OK         bool
	// Detail is the body of an answer, or the error of a failure with its
	// spaces replaced.
	Detail string
}

// Refused reports whether the probe failed because the target reset the
// connection: the address is reachable, but nothing (no DNAT rule yet)
// takes the port.
func (p HTTP) Refused() bool { return !p.OK && strings.Contains(p.Detail, "connection_refused") }

// Lines returns the observation lines of a probe log: not the rig's "==="
// headers, nor the prober's "#" notes.
func Lines(log string) []string {
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

// Ready reports whether the prober said it starts probing.
func Ready(log string) bool {
	return strings.Contains(log, "\n# ready ") || strings.HasPrefix(log, "# ready ")
}

// ParseHTTP reads every HTTP probe of log, sorted by completion.
func ParseHTTP(log string) ([]HTTP, error) {
	var out []HTTP
	for _, line := range Lines(log) {
		f := strings.SplitN(line, " ", 4)
		if len(f) < 3 || (f[2] != "ok" && f[2] != "fail") {
			return nil, fmt.Errorf("http probe line %q: want <sent> <done> ok|fail [detail]", line)
		}
		sent, err1 := unixNano(f[0])
		done, err2 := unixNano(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("http probe line %q: bad timestamp", line)
		}
		p := HTTP{Sent: sent, Done: done, OK: f[2] == "ok"}
		if len(f) == 4 {
			p.Detail = f[3]
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b HTTP) int { return a.Done.Compare(b.Done) })
	return out, nil
}

func unixNano(s string) (time.Time, error) {
	ns, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, ns), nil
}

// Gap is the client's view of an event: the longest time between two
// consecutive successful probes (by completion), and how many probes sent
// in between failed. A long gap without failures means the prober itself
// was not scheduled, not that the address went dark.
type Gap struct {
	D        time.Duration
	From, To time.Time
	Failed   int
}

// Outage is the gap around an event at `at`: from the last success that
// completed before at, through every success that completed by until. ok
// is false without a success on either side.
func Outage(probes []HTTP, at, until time.Time) (g Gap, ok bool) {
	var prev time.Time
	after := false
	for _, p := range probes {
		if !p.OK || p.Done.After(until) {
			continue
		}
		if p.Done.Before(at) {
			prev = p.Done
			continue
		}
		if prev.IsZero() {
			return Gap{}, false
		}
		if d := p.Done.Sub(prev); d > g.D {
			g = Gap{D: d, From: prev, To: p.Done}
		}
		prev, after = p.Done, true
	}
	for _, p := range probes {
		if !p.OK && !p.Sent.Before(g.From) && p.Sent.Before(g.To) {
			g.Failed++
		}
	}
	return g, after
}

// Failed counts the probes sent in [from, until) that failed, and all
// that were sent then.
func Failed(probes []HTTP, from, until time.Time) (failed, sent int) {
	for _, p := range probes {
		if p.Sent.Before(from) || !p.Sent.Before(until) {
			continue
		}
		sent++
		if !p.OK {
			failed++
		}
	}
	return failed, sent
}

// First is the first probe sent at or after since that match accepts.
func First(probes []HTTP, since time.Time, match func(HTTP) bool) (HTTP, bool) {
	var first HTTP
	found := false
	for _, p := range probes {
		if !p.Sent.Before(since) && match(p) && (!found || p.Sent.Before(first.Sent)) {
			first, found = p, true
		}
	}
	return first, found
}

// SendPause is the longest time between two consecutive probes sent: the
// prober's own hiccups (it sends every 10 ms when it gets the CPU).
func SendPause(probes []HTTP) time.Duration {
	sent := make([]time.Time, 0, len(probes))
	for _, p := range probes {
		sent = append(sent, p.Sent)
	}
	slices.SortFunc(sent, time.Time.Compare)
	var longest time.Duration
	for i := 1; i < len(sent); i++ {
		longest = max(longest, sent[i].Sub(sent[i-1]))
	}
	return longest
}

// OKRun accepts a probe log with n successful probes in a row, all sent
// after since (by completion order).
func OKRun(since time.Time, n int) func(string) error {
	return func(log string) error {
		if !Ready(log) {
			return fmt.Errorf("prober not ready")
		}
		probes, err := ParseHTTP(log)
		if err != nil {
			return err
		}
		run := 0
		for _, p := range probes {
			if p.Sent.Before(since) {
				continue
			}
			if !p.OK {
				run = 0
				continue
			}
			if run++; run >= n {
				return nil
			}
		}
		return fmt.Errorf("%d successful probes in a row since %s, want %d", run, since.Format(time.StampMilli), n)
	}
}

// Wait polls a prober's log until done accepts its contents.
func Wait(ctx context.Context, p *rig.Proc, timeout time.Duration, done func(log string) error) error {
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

// Stop stops a prober and returns its whole log.
func Stop(p *rig.Proc) (string, error) {
	if err := p.Stop(2 * time.Second); err != nil {
		return "", err
	}
	data, err := os.ReadFile(p.Log)
	return string(data), err
}

// ARP is one ARP observation of the prober's ARP mode:
// "<at> reply|garp <mac>".
type ARP struct {
	At time.Time
	// GARP is true for a gratuitous ARP, false for a reply to the
	// prober's who-has.
	GARP bool
	MAC  string
}

// ParseARP reads every ARP observation of log, sorted by time.
func ParseARP(log string) ([]ARP, error) {
	var out []ARP
	for _, line := range Lines(log) {
		f := strings.Fields(line)
		if len(f) != 3 || (f[1] != "reply" && f[1] != "garp") {
			return nil, fmt.Errorf("arp probe line %q: want <at> reply|garp <mac>", line)
		}
		at, err := unixNano(f[0])
		if err != nil {
			return nil, fmt.Errorf("arp probe line %q: bad timestamp", line)
		}
		out = append(out, ARP{At: at, GARP: f[1] == "garp", MAC: f[2]})
	}
	slices.SortFunc(out, func(a, b ARP) int { return a.At.Compare(b.At) })
	return out, nil
}

// FirstARP is the first reply (garp false) or gratuitous ARP (garp true)
// at or after since.
func FirstARP(answers []ARP, garp bool, since time.Time) (ARP, bool) {
	for _, a := range answers {
		if a.GARP == garp && !a.At.Before(since) {
			return a, true
		}
	}
	return ARP{}, false
}

// Durations are the gaps' lengths, in order.
func Durations(gs []Gap) []time.Duration {
	out := make([]time.Duration, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.D)
	}
	return out
}

// GapList formats gaps as [ms/failed ...], in order, for the log.
func GapList(gs []Gap) string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, fmt.Sprintf("%d/%d", g.D.Round(time.Millisecond).Milliseconds(), g.Failed))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// StartHTTP runs the prober bin in r's namespace ns against http://ip/
// every interval (each request on a new connection, failing after 200 ms;
// the prober stops by itself after limit) and waits until it probes.
func StartHTTP(ctx context.Context, r *rig.Rig, ns, name, bin string, ip netip.Addr, interval, limit time.Duration) (*rig.Proc, error) {
	p, err := r.Start(ns, name, []string{
		bin, "-http", "http://" + netip.AddrPortFrom(ip, 80).String() + "/",
		"-interval", interval.String(), "-timeout", "200ms", "-for", limit.String(),
	})
	if err != nil {
		return nil, err
	}
	if err := Wait(ctx, p, 10*time.Second, func(log string) error {
		if !Ready(log) {
			return fmt.Errorf("prober not ready")
		}
		return nil
	}); err != nil {
		_ = p.Stop(2 * time.Second)
		return nil, err
	}
	return p, nil
}

// StopHTTP stops a prober and returns its HTTP probes.
func StopHTTP(p *rig.Proc) ([]HTTP, error) {
	log, err := Stop(p)
	if err != nil {
		return nil, err
	}
	return ParseHTTP(log)
}
