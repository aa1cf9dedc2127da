package rig

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// ToR defaults: the router is AS 64512, the nodes AS 64513 (eBGP), as in
// testbed-facts §4.
const (
	RouterAS = 64512
	NodeAS   = 64513
)

//go:embed bird.conf.tmpl
var birdTemplate string

var birdTmpl = template.Must(template.New("bird.conf").Parse(birdTemplate))

// BirdTimers are the BGP timers of every session, in seconds.
type BirdTimers struct {
	Hold, Keepalive, ConnectDelay, ConnectRetry int
	// ErrorWaitMin and ErrorWaitMax bound BIRD's error wait, which doubles
	// on each repeated failure (caveat C7).
	ErrorWaitMin, ErrorWaitMax int
}

// FastBirdTimers are testbed-facts §8.4's: a dead peer is noticed within
// 9 s, a refused connection retried within 2 s.
var FastBirdTimers = BirdTimers{Hold: 9, Keepalive: 3, ConnectDelay: 1, ConnectRetry: 2, ErrorWaitMin: 1, ErrorWaitMax: 10}

// BirdNeighbor is one explicitly configured speaker.
type BirdNeighbor struct {
	// Name is the BIRD protocol name (letters, digits, underscores).
	Name string
	// Address is the speaker's; Local is the router's end of the session.
	Address, Local netip.Addr
	AS             uint32
	// Port is the speaker's BGP port when not 179.
	Port int
	// Multihop enables eBGP multihop with that TTL; 0 means direct.
	Multihop int
	// Password enables TCP MD5 signatures.
	Password string
	// Passive makes BIRD wait for the speaker to connect.
	Passive bool
}

// BirdRange accepts any speaker from Prefix (BIRD's dynamic BGP), so no
// per-node ToR configuration is needed.
type BirdRange struct {
	// Name is the protocol name; the dynamic sessions are Name_1, Name_2...
	Name   string
	Prefix netip.Prefix
	Local  netip.Addr
	AS     uint32
	// Direct marks the neighbours directly connected. eBGP sessions are
	// by default; iBGP ones (AS equal to the router's) need it, or BIRD
	// resolves their next hops recursively through an IGP the rig has not.
	Direct bool
	// Interface binds the sessions to an interface. BIRD locks each
	// session by neighbour address, port and interface, and every dynamic
	// range of one family by the same unspecified address: a second range
	// of the family waits for the first one's lock forever (BIRD 2.0.12
	// then rejects every connection to it), unless it names an interface.
	Interface string
}

// BirdConfig is the ToR's configuration.
type BirdConfig struct {
	RouterID netip.Addr
	AS       uint32
	// Families are the channels of every session and the kernel tables
	// exported to: "ipv4", "ipv6".
	Families  []string
	Timers    BirdTimers
	Passive   bool
	Ranges    []BirdRange
	Neighbors []BirdNeighbor
	// BFD, when set, runs BFD on every interface and makes every BGP
	// session use it (`bfd on`): a speaker that falls silent is dropped
	// after Interval × Multiplier instead of the hold time. Off by default.
	BFD *BirdBFD
}

// BirdBFD are the ToR's BFD settings, the same both ways.
type BirdBFD struct {
	// Interval is the desired transmit and the required receive interval,
	// whole milliseconds.
	Interval time.Duration
	// Multiplier is the detect multiplier, 1-255.
	Multiplier int
}

// IntervalMS is Interval in milliseconds, for the template.
func (b BirdBFD) IntervalMS() int64 { return b.Interval.Milliseconds() }

// BirdToRConfig is the default ToR: router ID and local addresses of the
// router's LAN interface, AS RouterAS, both families, fast timers, and
// dynamic neighbours for the whole LAN, IPv4 ("dyn4") and IPv6 ("dyn6"),
// in peerAS.
func (p Plan) BirdToRConfig(peerAS uint32) BirdConfig {
	return BirdConfig{
		RouterID: p.Router.LAN.IPv4.Addr(),
		AS:       RouterAS,
		Families: []string{"ipv4", "ipv6"},
		Timers:   FastBirdTimers,
		Ranges: []BirdRange{
			{Name: "dyn4", Prefix: LANv4, Local: p.Router.LAN.IPv4.Addr(), AS: peerAS},
			{Name: "dyn6", Prefix: LANv6, Local: p.Router.LAN.IPv6.Addr(), AS: peerAS},
		},
	}
}

var birdName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports every mistake in the configuration at once.
func (c BirdConfig) Validate() error {
	var errs []error
	if !c.RouterID.Is4() {
		errs = append(errs, fmt.Errorf("router id %v: want an IPv4 address", c.RouterID))
	}
	if c.AS == 0 {
		errs = append(errs, errors.New("as: must not be 0"))
	}
	if len(c.Families) == 0 {
		errs = append(errs, errors.New("families: want ipv4, ipv6 or both"))
	}
	for _, f := range c.Families {
		if f != "ipv4" && f != "ipv6" {
			errs = append(errs, fmt.Errorf("family %q: want ipv4 or ipv6", f))
		}
	}
	if t := c.Timers; t.Hold < 3 || t.Keepalive < 1 || t.ConnectRetry < 1 || t.ErrorWaitMin < 1 || t.ErrorWaitMax < t.ErrorWaitMin {
		errs = append(errs, fmt.Errorf("timers %+v: hold >= 3, keepalive, connect retry and error wait >= 1, error wait max >= min", t))
	}
	if b := c.BFD; b != nil && (b.Interval < time.Millisecond || b.Interval%time.Millisecond != 0 || b.Multiplier < 1 || b.Multiplier > 255) {
		errs = append(errs, fmt.Errorf("bfd %+v: interval whole milliseconds >= 1ms, multiplier 1-255", *b))
	}
	names := map[string]bool{}
	checkName := func(n string) {
		if !birdName.MatchString(n) {
			errs = append(errs, fmt.Errorf("protocol name %q: letters, digits and underscores only", n))
		}
		if names[n] {
			errs = append(errs, fmt.Errorf("protocol name %q: used twice", n))
		}
		names[n] = true
	}
	for _, r := range c.Ranges {
		checkName(r.Name)
		if !r.Prefix.IsValid() || !r.Local.IsValid() || r.Prefix.Addr().Is4() != r.Local.Is4() {
			errs = append(errs, fmt.Errorf("range %s: prefix %v and local %v must be valid and of one family", r.Name, r.Prefix, r.Local))
		}
		if r.AS == 0 {
			errs = append(errs, fmt.Errorf("range %s: as must not be 0", r.Name))
		}
	}
	for _, n := range c.Neighbors {
		checkName(n.Name)
		if !n.Address.IsValid() || !n.Local.IsValid() || n.Address.Is4() != n.Local.Is4() {
			errs = append(errs, fmt.Errorf("neighbor %s: address %v and local %v must be valid and of one family", n.Name, n.Address, n.Local))
		}
		if n.AS == 0 {
			errs = append(errs, fmt.Errorf("neighbor %s: as must not be 0", n.Name))
		}
		if strings.ContainsAny(n.Password, "\"\\\n") {
			errs = append(errs, fmt.Errorf("neighbor %s: password must not hold quotes, backslashes or newlines", n.Name))
		}
	}
	return errors.Join(errs...)
}

// Render returns bird.conf for c.
func (c BirdConfig) Render() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("bird config: %w", err)
	}
	var buf bytes.Buffer
	if err := birdTmpl.Execute(&buf, c); err != nil {
		return nil, fmt.Errorf("bird config: render: %w", err)
	}
	return buf.Bytes(), nil
}

// Bird is a running BIRD daemon with its own control socket.
type Bird struct {
	Proc   *Proc
	Socket string
	Config string
}

// StartToR renders cfg and starts BIRD with it in the router's namespace,
// under the process name "bird-tor".
func (r *Rig) StartToR(ctx context.Context, cfg BirdConfig) (*Bird, error) {
	conf, err := cfg.Render()
	if err != nil {
		return nil, err
	}
	return r.StartBird(ctx, r.Router.NS, "bird-tor", conf)
}

// StartBird starts BIRD in the foreground (so its PID is the one
// recorded) in namespace ns with the given configuration, checked first
// with `bird -p`, and waits until its control socket answers.
func (r *Rig) StartBird(ctx context.Context, ns, name string, conf []byte) (*Bird, error) {
	b := &Bird{
		Socket: filepath.Join(r.StateDir, name+".ctl"),
		Config: filepath.Join(r.StateDir, name+".conf"),
	}
	if err := os.WriteFile(b.Config, conf, 0o644); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if _, err := run(ctx, "bird", "-p", "-c", b.Config); err != nil {
		return nil, fmt.Errorf("start %s: config rejected: %w", name, err)
	}
	p, err := r.Start(ns, name, []string{"bird", "-f", "-c", b.Config, "-s", b.Socket})
	if err != nil {
		return nil, err
	}
	b.Proc = p
	start := time.Now()
	err = Eventually(ctx, 10*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		if !p.Running() {
			return fmt.Errorf("bird exited: %v", p.Err())
		}
		out, err := b.Cmd(ctx, "show", "status")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "Daemon is up and running") {
			return fmt.Errorf("status: %s", strings.TrimSpace(out))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("start %s: control socket: %w\n%s", name, err, p.Tail(20))
	}
	r.logf("%s: control socket answers %v after start", name, time.Since(start).Round(time.Millisecond))
	return b, nil
}

// Cmd runs `birdc -s <socket> args...` (from the host: unix sockets cross
// namespaces) and returns its output.
func (b *Bird) Cmd(ctx context.Context, args ...string) (string, error) {
	return run(ctx, "birdc", append([]string{"-s", b.Socket}, args...)...)
}

// Configure replaces the configuration and has BIRD reload it (`birdc
// configure`), which keeps unchanged sessions up.
func (b *Bird) Configure(ctx context.Context, conf []byte) error {
	if err := os.WriteFile(b.Config, conf, 0o644); err != nil {
		return fmt.Errorf("bird configure: %w", err)
	}
	out, err := b.Cmd(ctx, "configure")
	if err != nil {
		return fmt.Errorf("bird configure: %w", err)
	}
	if !strings.Contains(out, "Reconfigured") && !strings.Contains(out, "Reconfiguration in progress") {
		return fmt.Errorf("bird configure: %s", strings.TrimSpace(out))
	}
	return nil
}

// Stop stops BIRD (SIGTERM: an orderly shutdown, sessions closed with a
// CEASE), killing it after timeout.
func (b *Bird) Stop(timeout time.Duration) error { return b.Proc.Stop(timeout) }

// BirdProtocol is one line of `birdc show protocols`.
type BirdProtocol struct {
	Name, Proto, Table, State string
	// Since is when the protocol last changed state (BIRD's time of day):
	// an Established session whose Since is unchanged was not reset.
	Since string
	// Info is the BGP state ("Established", "Active", "Connect", ...) or
	// the last error.
	Info string
}

// Protocols lists BIRD's protocols and their states.
func (b *Bird) Protocols(ctx context.Context) ([]BirdProtocol, error) {
	out, err := b.Cmd(ctx, "show", "protocols")
	if err != nil {
		return nil, err
	}
	return parseProtocols(out)
}

// Established returns the names of the BGP sessions that are up; with
// dynamic neighbours those are the spawned dyn4_1, dyn6_1, ...
func (b *Bird) Established(ctx context.Context) ([]string, error) {
	protos, err := b.Protocols(ctx)
	if err != nil {
		return nil, err
	}
	var up []string
	for _, p := range protos {
		if p.Proto == "BGP" && strings.HasPrefix(p.Info, "Established") {
			up = append(up, p.Name)
		}
	}
	return up, nil
}

// parseProtocols reads `show protocols`: a "BIRD x.y ready." line, a
// header, then one line per protocol whose Since column is one token (the
// time of day in BIRD's default format).
func parseProtocols(out string) ([]BirdProtocol, error) {
	var protos []BirdProtocol
	header := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0, strings.HasPrefix(line, "BIRD "):
			continue
		case f[0] == "Name" && len(f) > 1 && f[1] == "Proto":
			header = true
			continue
		case !header:
			return nil, fmt.Errorf("show protocols: unexpected line before the header: %q", line)
		case len(f) < 5:
			return nil, fmt.Errorf("show protocols: short line %q", line)
		}
		p := BirdProtocol{Name: f[0], Proto: f[1], Table: f[2], State: f[3], Since: f[4]}
		if len(f) > 5 {
			p.Info = strings.Join(f[5:], " ")
		}
		protos = append(protos, p)
	}
	if !header {
		return nil, fmt.Errorf("show protocols: no header in %q", out)
	}
	return protos, nil
}
