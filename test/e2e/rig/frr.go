package rig

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
)

// The second ToR's place on the LAN: the first free address after the
// BIRD router's (10.99.0.2, fd99::2), in a namespace of its own so that
// BIRD's is untouched.
const (
	FRRHostName = "router2"
	FRRHostID   = 2
)

// frrDaemonDir is where Debian's frr package installs the daemons.
const frrDaemonDir = "/usr/lib/frr"

//go:embed frr.conf.tmpl
var frrTemplate string

var frrTmpl = template.Must(template.New("frr").Parse(frrTemplate))

// frrDaemons are started in this order: zebra first (bgpd and bfdd are its
// clients), and stopped in reverse, bgpd first so that it closes its
// sessions with a CEASE while zebra still removes its routes.
var frrDaemons = []string{"zebra", "bfdd", "bgpd"}

// FRRAvailable reports why FRR cannot run here (the frr package is
// missing: `make deps`), or nil.
func FRRAvailable() error {
	var missing []string
	for _, d := range frrDaemons {
		if _, err := os.Stat(filepath.Join(frrDaemonDir, d)); err != nil {
			missing = append(missing, filepath.Join(frrDaemonDir, d))
		}
	}
	if _, err := exec.LookPath("vtysh"); err != nil {
		missing = append(missing, "vtysh")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: FRR missing: %s (install the frr package: `make deps`)", ErrUnavailable, strings.Join(missing, ", "))
	}
	return nil
}

// FRRBFD configures BFD on the speakers' sessions. bfdd runs in any case,
// so `show bfd peers` answers (with no peers) when BFD is off.
type FRRBFD struct {
	// Enabled asks bgpd for a BFD session with every speaker.
	Enabled bool
	// TransmitInterval and ReceiveInterval are the desired minimum
	// intervals (10 ms to 60 s); 0 means FRR's default, 300 ms.
	TransmitInterval, ReceiveInterval time.Duration
	// DetectMultiplier is how many missed packets mean down; 0 means 3.
	DetectMultiplier int
	// Passive makes bfdd wait for the speaker's first packet.
	Passive bool
}

// FRROptions shape the FRR ToR. The zero value is an eBGP ToR in AS
// RouterAS (BIRD's) for speakers in NodeAS, IPv4 and IPv6, fast timers,
// graceful restart, ECMP over 8 paths, no BFD.
type FRROptions struct {
	// Name is the host's role name, and prefixes its processes' names
	// (<name>-zebra...); empty means FRRHostName.
	Name string
	// ID is the host's LAN address (10.99.0.<ID>); 0 means FRRHostID.
	ID int
	// AS is FRR's own AS for eBGP; 0 means RouterAS.
	AS uint32
	// PeerAS is the speakers' AS; 0 means NodeAS.
	PeerAS uint32
	// IBGP makes the sessions internal: FRR runs in PeerAS (AS is
	// ignored), so LOCAL_PREF is carried and shown.
	IBGP bool
	// Families are "ipv4" and/or "ipv6"; nil means both. Each family has
	// its own dynamic peer group (nodes4: 10.99.0.0/24, nodes6: fd99::/64)
	// whose sessions carry that family only.
	Families []string
	// Keepalive and Hold are the BGP timers in seconds; 0 means 3 and 9.
	Keepalive, Hold int
	// MaximumPaths bounds ECMP; 0 means 8.
	MaximumPaths int
	// NoGracefulRestart turns off the graceful restart FRR does by default
	// here (like the BIRD ToR).
	NoGracefulRestart bool
	BFD               FRRBFD
}

// frrGroup is one dynamic peer group of the rendered bgpd.conf.
type frrGroup struct {
	Name, Family, Range string
}

// frrConfig is what frr.conf.tmpl renders.
type frrConfig struct {
	Hostname        string
	RouterID        string
	AS              uint32
	PeerAS          string // a number, or "internal"
	Keepalive, Hold int
	MaximumPaths    int
	GracefulRestart bool
	BFD             struct {
		Enabled                                 bool
		TransmitMS, ReceiveMS, DetectMultiplier int64
		Passive                                 bool
	}
	Groups []frrGroup
}

// withDefaults fills the zero fields of o.
func (o FRROptions) withDefaults() FRROptions {
	if o.Name == "" {
		o.Name = FRRHostName
	}
	if o.ID == 0 {
		o.ID = FRRHostID
	}
	if o.AS == 0 {
		o.AS = RouterAS
	}
	if o.PeerAS == 0 {
		o.PeerAS = NodeAS
	}
	if o.IBGP {
		o.AS = o.PeerAS
	}
	if o.Families == nil {
		o.Families = []string{"ipv4", "ipv6"}
	}
	if o.Keepalive == 0 {
		o.Keepalive = 3
	}
	if o.Hold == 0 {
		o.Hold = 9
	}
	if o.MaximumPaths == 0 {
		o.MaximumPaths = 8
	}
	if o.BFD.TransmitInterval == 0 {
		o.BFD.TransmitInterval = 300 * time.Millisecond
	}
	if o.BFD.ReceiveInterval == 0 {
		o.BFD.ReceiveInterval = 300 * time.Millisecond
	}
	if o.BFD.DetectMultiplier == 0 {
		o.BFD.DetectMultiplier = 3
	}
	return o
}

// frrConfigFor validates o (with its defaults) and turns it into the
// template's data for the host at the given LAN address.
func frrConfigFor(o FRROptions, h Host) (frrConfig, error) {
	o = o.withDefaults()
	var errs []error
	if o.Hold < 3 || o.Keepalive < 1 || o.Keepalive > o.Hold {
		errs = append(errs, fmt.Errorf("timers keepalive %d hold %d: want hold >= 3 and 1 <= keepalive <= hold", o.Keepalive, o.Hold))
	}
	if o.MaximumPaths < 1 || o.MaximumPaths > 256 {
		errs = append(errs, fmt.Errorf("maximum paths %d: want 1..256", o.MaximumPaths))
	}
	for _, d := range []time.Duration{o.BFD.TransmitInterval, o.BFD.ReceiveInterval} {
		if d < 10*time.Millisecond || d > time.Minute || d%time.Millisecond != 0 {
			errs = append(errs, fmt.Errorf("bfd interval %v: want whole milliseconds, 10ms..60s", d))
		}
	}
	if m := o.BFD.DetectMultiplier; m < 2 || m > 255 {
		errs = append(errs, fmt.Errorf("bfd detect multiplier %d: want 2..255", m))
	}
	c := frrConfig{
		Hostname:        o.Name,
		RouterID:        h.LAN.IPv4.Addr().String(),
		AS:              o.AS,
		PeerAS:          strconv.FormatUint(uint64(o.PeerAS), 10),
		Keepalive:       o.Keepalive,
		Hold:            o.Hold,
		MaximumPaths:    o.MaximumPaths,
		GracefulRestart: !o.NoGracefulRestart,
	}
	if o.IBGP {
		c.PeerAS = "internal"
	}
	c.BFD.Enabled = o.BFD.Enabled
	c.BFD.TransmitMS = o.BFD.TransmitInterval.Milliseconds()
	c.BFD.ReceiveMS = o.BFD.ReceiveInterval.Milliseconds()
	c.BFD.DetectMultiplier = int64(o.BFD.DetectMultiplier)
	c.BFD.Passive = o.BFD.Passive
	if len(o.Families) == 0 {
		errs = append(errs, errors.New("families: want ipv4, ipv6 or both"))
	}
	for _, f := range o.Families {
		switch f {
		case "ipv4":
			c.Groups = append(c.Groups, frrGroup{Name: "nodes4", Family: f, Range: LANv4.String()})
		case "ipv6":
			c.Groups = append(c.Groups, frrGroup{Name: "nodes6", Family: f, Range: LANv6.String()})
		default:
			errs = append(errs, fmt.Errorf("family %q: want ipv4 or ipv6", f))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return frrConfig{}, fmt.Errorf("frr config: %w", err)
	}
	return c, nil
}

// render returns each daemon's configuration file, by daemon name.
func (c frrConfig) render() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, d := range frrDaemons {
		var buf bytes.Buffer
		if err := frrTmpl.ExecuteTemplate(&buf, d+".conf", c); err != nil {
			return nil, fmt.Errorf("frr config: render %s.conf: %w", d, err)
		}
		out[d] = buf.Bytes()
	}
	return out, nil
}

// FRR is a running FRR (zebra, bgpd, bfdd) as a second ToR on the LAN.
// Every file of it — configs, pid files, vty, zebra and bfdd sockets — is
// in Dir (nothing under /etc/frr or /var/run/frr), so FRR instances of
// different rigs never meet, an FRR the host may run is not touched, and
// CleanupStale's removal of the state dir removes everything a crashed
// run left.
type FRR struct {
	// Host is its place on the LAN (router2: 10.99.0.2, fd99::2).
	Host Host
	// AS is its own AS number.
	AS uint32
	// Dir holds its files: <state dir>/<name>. The daemons' logs are
	// the rig's usual <state dir>/<name>-zebra.log etc.
	Dir string
	// Zebra, BGPd and BFDd are its processes (a test may kill one).
	Zebra, BGPd, BFDd *Proc

	r        *Rig
	stopOnce sync.Once
	stopErr  error
}

// StartFRR adds FRR's host to the LAN (AddLANHost) and starts zebra,
// bfdd and bgpd there in the foreground (their PIDs are the ones the rig
// records), and returns once all three answer vtysh and zebra has bgpd
// and bfdd as its clients. Its sessions are all passive: the speakers
// connect. Stop undoes it all; Down does too. A second FRR needs another
// Name and ID.
func (r *Rig) StartFRR(ctx context.Context, opts FRROptions) (*FRR, error) {
	opts = opts.withDefaults()
	h := lanHost(r.Prefix, opts.Name, opts.ID)
	cfg, err := frrConfigFor(opts, h)
	if err != nil {
		return nil, fmt.Errorf("start frr %s: %w", opts.Name, err)
	}
	confs, err := cfg.render()
	if err != nil {
		return nil, fmt.Errorf("start frr %s: %w", opts.Name, err)
	}
	dir := filepath.Join(r.StateDir, opts.Name)
	if len(dir)+len("/zserv.api") >= 108 {
		return nil, fmt.Errorf("start frr %s: state dir %s too long for a unix socket path", opts.Name, dir)
	}
	start := time.Now()
	// First the host: it refuses a name in use, so that a running FRR's
	// files are never touched.
	if h, err = r.AddLANHost(ctx, opts.Name, opts.ID); err != nil {
		return nil, fmt.Errorf("start frr %s: %w", opts.Name, err)
	}
	f := &FRR{Host: h, AS: cfg.AS, Dir: dir, r: r}
	if err := f.writeFiles(confs); err != nil {
		return nil, errors.Join(fmt.Errorf("start frr %s: %w", opts.Name, err), f.Stop())
	}
	if err := f.startDaemons(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("start frr %s: %w", opts.Name, err), f.Stop())
	}
	r.logf("%s: FRR (zebra, bfdd, bgpd) answers vtysh %v after start", opts.Name, time.Since(start).Round(time.Millisecond))
	return f, nil
}

// writeFiles puts the daemons' configurations into a fresh Dir: an
// earlier FRR of this rig left its sockets there, and its zserv.api would
// pass for the new zebra's before that one listens.
func (f *FRR) writeFiles(confs map[string][]byte) error {
	if err := os.RemoveAll(f.Dir); err != nil {
		return err
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return err
	}
	// vtysh reads its own configuration from --config_dir; an empty one
	// keeps it from complaining that there is none.
	files := map[string][]byte{"vtysh.conf": nil}
	for d, conf := range confs {
		files[d+".conf"] = conf
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(f.Dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// startDaemons starts zebra, waits for its API socket, then starts bfdd
// and bgpd and waits until they answer and are zebra's clients.
func (f *FRR) startDaemons(ctx context.Context) error {
	zserv := filepath.Join(f.Dir, "zserv.api")
	logStart := map[string]int64{}
	for _, d := range frrDaemons {
		argv := []string{
			filepath.Join(frrDaemonDir, d),
			// Stay root (Dir is root's); the group must be one root is
			// in as far as FRR's check goes: the vty group itself.
			"-u", "root", "-g", "frrvty",
			"-P", "0", // no TCP vty: vtysh uses the unix socket
			"-f", filepath.Join(f.Dir, d+".conf"),
			"-i", filepath.Join(f.Dir, d+".pid"),
			"-z", zserv,
			"--vty_socket", f.Dir,
			"--log", "stdout",
		}
		if d == "bfdd" {
			argv = append(argv, "--bfdctl", filepath.Join(f.Dir, "bfdd.sock"))
		}
		name := f.Host.Name + "-" + d
		// The log of an earlier FRR of the same name goes on in the same
		// file: check only what this one writes.
		logStart[d] = fileSize(filepath.Join(f.r.StateDir, name+".log"))
		p, err := f.r.Start(f.Host.NS, name, argv)
		if err != nil {
			return err
		}
		switch d {
		case "zebra":
			f.Zebra = p
			err = f.waitReady(ctx, 10*time.Millisecond, func(context.Context) error {
				if _, err := os.Stat(zserv); err != nil {
					return fmt.Errorf("zebra's API socket: %w", err)
				}
				return nil
			})
			if err != nil {
				return err
			}
		case "bfdd":
			f.BFDd = p
		case "bgpd":
			f.BGPd = p
		}
	}
	err := f.waitReady(ctx, 20*time.Millisecond, func(ctx context.Context) error {
		// One vtysh call reaching every daemon; zebra must list bgpd and
		// bfdd as its clients (bgpd retries a failed connection only
		// after 10 s, and resolves no next hop meanwhile).
		out, err := f.Cmd(ctx, "show bgp summary json\nshow bfd peers json\nshow zebra client summary")
		if err != nil {
			return err
		}
		clients := map[string]bool{}
		for _, line := range strings.Split(out, "\n") {
			if fields := strings.Fields(line); len(fields) > 1 {
				clients[fields[0]] = true
			}
		}
		if !clients["bgp"] || !clients["bfd"] {
			return fmt.Errorf("zebra's clients lack bgp or bfd:\n%s", out)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A daemon logs a line it does not understand and goes on without it:
	// fail loudly instead of testing against half a configuration.
	var errs []error
	for i, p := range []*Proc{f.Zebra, f.BFDd, f.BGPd} {
		for _, line := range strings.Split(p.LogSince(logStart[frrDaemons[i]]), "\n") {
			if strings.Contains(line, "on config line") {
				errs = append(errs, fmt.Errorf("%s: %s", p.Name, strings.TrimSpace(line)))
			}
		}
	}
	return errors.Join(errs...)
}

// waitReady polls check for at most 10 s, and gives up at once, with the
// log's tail, when one of the daemons started so far exits.
func (f *FRR) waitReady(ctx context.Context, interval time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	return Eventually(ctx, 10*time.Second, interval, func(ctx context.Context) error {
		for _, p := range []*Proc{f.Zebra, f.BFDd, f.BGPd} {
			if p != nil && !p.Running() {
				err := fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), p.Tail(20))
				cancel(err)
				return err
			}
		}
		return check(ctx)
	})
}

// Stop stops bgpd (closing its sessions with a CEASE), bfdd and zebra
// (which removes its routes), each SIGTERM then SIGKILL after 5 s, and
// removes the host from the LAN. It is idempotent, so a test may both
// defer it and leave it to the rig's Down.
func (f *FRR) Stop() error {
	f.stopOnce.Do(func() {
		var errs []error
		for _, p := range []*Proc{f.BGPd, f.BFDd, f.Zebra} {
			if p == nil {
				continue
			}
			if err := p.Stop(5 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		if f.Host.NS != "" {
			if err := f.r.RemoveLANHost(f.Host.Name); err != nil {
				errs = append(errs, err)
			}
		}
		f.stopErr = errors.Join(errs...)
	})
	return f.stopErr
}

// Cmd runs vtysh commands (several separated by newlines) against this
// FRR's daemons, from the host: their vty sockets are unix sockets in Dir.
func (f *FRR) Cmd(ctx context.Context, command string) (string, error) {
	return run(ctx, "vtysh", "--vty_socket", f.Dir, "--config_dir", f.Dir, "-c", command)
}

// JSON runs one vtysh command that prints JSON and decodes it into v.
func (f *FRR) JSON(ctx context.Context, command string, v any) error {
	out, err := f.Cmd(ctx, command)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("frr %s: %q: %w: %s", f.Host.Name, command, err, strings.TrimSpace(out))
	}
	return nil
}
