package rig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BfddPeer is one static single-hop BFD peer of FRR's bfdd.
type BfddPeer struct {
	// Address is the peer's, Local the router's end; Interface the
	// router's interface towards it.
	Address, Local netip.Addr
	Interface      string
	// Interval is the transmit and receive interval, whole milliseconds;
	// Multiplier the detect multiplier.
	Interval   time.Duration
	Multiplier int
}

// Bfdd is FRR 8's bfdd, with the zebra it needs, in one namespace: a
// second BFD implementation besides BIRD's, for interoperability tests.
// Its daemons use their own pathspace (-N), so their sockets and any
// leftovers are under /var/run/frr/<pathspace> and /etc/frr/<pathspace>.
type Bfdd struct {
	Zebra, BFDD *Proc
	Pathspace   string
}

// StartBfdd starts zebra and bfdd in ns with the given peers and waits
// until vtysh answers. It skips nothing: a missing FRR is an error.
func (r *Rig) StartBfdd(ctx context.Context, ns string, peers []BfddPeer) (*Bfdd, error) {
	if _, err := os.Stat(filepath.Join(frrDaemonDir, "bfdd")); err != nil {
		return nil, fmt.Errorf("start frr bfdd: %w (apt-get install frr)", err)
	}
	f := &Bfdd{Pathspace: "herald-" + filepath.Base(r.StateDir)}
	runDir := filepath.Join("/var/run/frr", f.Pathspace)
	etc := filepath.Join("/etc/frr", f.Pathspace)
	for _, d := range []string{runDir, etc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("start frr bfdd: %w", err)
		}
		if _, err := run(ctx, "chown", "frr:frr", d); err != nil {
			return nil, fmt.Errorf("start frr bfdd: %w", err)
		}
	}
	r.onDown(func() error { return errors.Join(os.RemoveAll(runDir), os.RemoveAll(etc)) })
	if err := os.WriteFile(filepath.Join(etc, "vtysh.conf"), nil, 0o644); err != nil {
		return nil, fmt.Errorf("start frr bfdd: %w", err)
	}
	var conf strings.Builder
	conf.WriteString("bfd\n")
	for _, p := range peers {
		fmt.Fprintf(&conf, " peer %s local-address %s interface %s\n  receive-interval %d\n  transmit-interval %d\n  detect-multiplier %d\n !\n",
			p.Address, p.Local, p.Interface, p.Interval.Milliseconds(), p.Interval.Milliseconds(), p.Multiplier)
	}
	conf.WriteString("!\n")
	bfddConf := filepath.Join(r.StateDir, "frr-bfdd.conf")
	zebraConf := filepath.Join(r.StateDir, "frr-zebra.conf")
	for path, body := range map[string]string{bfddConf: conf.String(), zebraConf: "!\n"} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return nil, fmt.Errorf("start frr bfdd: %w", err)
		}
	}
	var err error
	if f.Zebra, err = r.Start(ns, "frr-zebra", []string{filepath.Join(frrDaemonDir, "zebra"), "-N", f.Pathspace,
		"-f", zebraConf, "-i", filepath.Join(runDir, "zebra.pid")}); err != nil {
		return nil, err
	}
	if err := Eventually(ctx, 10*time.Second, 50*time.Millisecond, func(context.Context) error {
		_, err := os.Stat(filepath.Join(runDir, "zserv.api"))
		return err
	}); err != nil {
		return nil, fmt.Errorf("start frr zebra: %w\n%s", err, f.Zebra.Tail(20))
	}
	if f.BFDD, err = r.Start(ns, "frr-bfdd", []string{filepath.Join(frrDaemonDir, "bfdd"), "-N", f.Pathspace,
		"-f", bfddConf, "-i", filepath.Join(runDir, "bfdd.pid")}); err != nil {
		return nil, err
	}
	if err := Eventually(ctx, 10*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		_, err := f.Peers(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("start frr bfdd: vtysh: %w\n%s", err, f.BFDD.Tail(20))
	}
	return f, nil
}

// Peers returns bfdd's session status ("up", "down", "init",
// "shutdown") by peer address.
func (f *Bfdd) Peers(ctx context.Context) (map[netip.Addr]string, error) {
	out, err := run(ctx, "vtysh", "-N", f.Pathspace, "-c", "show bfd peers json")
	if err != nil {
		return nil, err
	}
	var peers []struct {
		Peer   string `json:"peer"`
		Status string `json:"status"`
	}
	i := strings.Index(out, "[")
	if i < 0 {
		return nil, fmt.Errorf("show bfd peers json: no list in %q", out)
	}
	if err := json.Unmarshal([]byte(out[i:]), &peers); err != nil {
		return nil, fmt.Errorf("show bfd peers json: %w: %q", err, out)
	}
	st := make(map[netip.Addr]string, len(peers))
	for _, p := range peers {
		if a, err := netip.ParseAddr(p.Peer); err == nil {
			st[a] = p.Status
		}
	}
	return st, nil
}

// Stop stops bfdd, then zebra.
func (f *Bfdd) Stop(timeout time.Duration) error {
	return errors.Join(f.BFDD.Stop(timeout), f.Zebra.Stop(timeout))
}
