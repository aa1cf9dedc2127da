package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herald-lb/herald/vipdir"
)

// VIP mode in the testbed runs the same model as the release: per node,
// herald-keepalived (the supervisor DaemonSet's entrypoint) as its own
// process in the node's namespace, running the system's keepalived on a
// per-node directory it shares with that node's speaker (--vip-dir). A
// speaker crash or restart therefore moves no VIP here either.
const (
	// KeepalivedMetricsPort is herald-keepalived's /metrics and /healthz,
	// on each node's loopback.
	KeepalivedMetricsPort = 7474
	// DefaultKeepalived is the system keepalived (`make deps`).
	DefaultKeepalived = "/usr/sbin/keepalived"
	// keepalivedStopGrace is --stop-grace: a graceful stop takes
	// milliseconds; Down waits a little longer than this.
	keepalivedStopGrace = 5 * time.Second
)

// VIPDir is the directory this node's speaker and supervisor share
// (vipdir): keepalived.conf.candidate, keepalived.conf, state.json, ...
func (n *Node) VIPDir() vipdir.Dir {
	return vipdir.Dir(filepath.Join(n.c.StateDir, "vip-"+n.Name))
}

// keepalivedRunDir holds the pid files of the node's keepalived: private
// to its supervisor, as in the pod.
func (n *Node) keepalivedRunDir() string {
	return filepath.Join(n.c.StateDir, "vip-run-"+n.Name)
}

// StartKeepalived starts herald-keepalived for this node with extra flags
// args; the previous one, if any, must have exited. It does not wait for
// it to be ready (WaitKeepalivedReady).
func (n *Node) StartKeepalived(args ...string) error {
	if n.Keepalived != nil && n.Keepalived.Running() {
		return fmt.Errorf("node %s: herald-keepalived is still running (pid %d)", n.Name, n.Keepalived.PID())
	}
	n.keepaliveds++
	name := "keepalived-" + n.Name
	if n.keepaliveds > 1 {
		name = fmt.Sprintf("%s-%d", name, n.keepaliveds)
	}
	argv := append([]string{
		n.c.opts.Binaries.Keepalived,
		"--dir=" + string(n.VIPDir()),
		"--keepalived=" + n.c.keepalivedBinary(),
		"--run-dir=" + n.keepalivedRunDir(),
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(KeepalivedMetricsPort),
		"--poll-interval=100ms",
		"--stop-grace=" + keepalivedStopGrace.String(),
	}, args...)
	p, err := n.c.Start(n.NS, name, argv)
	if err != nil {
		return err
	}
	n.Keepalived = p
	return nil
}

// WaitKeepalivedReady waits until herald-keepalived's /healthz answers 200.
func (n *Node) WaitKeepalivedReady(ctx context.Context) error {
	return n.waitHTTP(ctx, n.Keepalived, "http://127.0.0.1:"+strconv.Itoa(KeepalivedMetricsPort)+"/healthz")
}

// VIPStates reads the node's state.json: the VRRP state of every VIP
// instance its keepalived runs.
func (n *Node) VIPStates() (vipdir.States, error) {
	s, err := vipdir.Read(n.VIPDir().State())
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	return s, nil
}

// VIPAddrs lists the host-prefix (/32, /128) global addresses on the
// node's interfaces, as `ip addr` shows them: the VIPs keepalived put
// there (the node's own addresses are /24 and /64).
func (n *Node) VIPAddrs(ctx context.Context) ([]netip.Prefix, error) {
	out, err := n.c.ExecContext(ctx, n.NS, "ip", "-j", "addr", "show")
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	return parseHostAddrs(out)
}

// parseHostAddrs reads `ip -j addr show` and returns its global /32 and
// /128 addresses.
func parseHostAddrs(out string) ([]netip.Prefix, error) {
	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Scope     string `json:"scope"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return nil, fmt.Errorf("ip -j addr: %w", err)
	}
	var vips []netip.Prefix
	for _, l := range links {
		for _, a := range l.AddrInfo {
			addr, err := netip.ParseAddr(a.Local)
			if err != nil || a.Scope != "global" || a.PrefixLen != addr.BitLen() {
				continue
			}
			vips = append(vips, netip.PrefixFrom(addr, a.PrefixLen))
		}
	}
	return vips, nil
}

// HasVIP reports whether a is on one of the node's interfaces as a host
// prefix.
func (n *Node) HasVIP(ctx context.Context, a netip.Addr) (bool, error) {
	vips, err := n.VIPAddrs(ctx)
	if err != nil {
		return false, err
	}
	for _, p := range vips {
		if p.Addr() == a {
			return true, nil
		}
	}
	return false, nil
}

func (c *Cluster) keepalivedBinary() string {
	if c.opts.KeepalivedBinary != "" {
		return c.opts.KeepalivedBinary
	}
	return DefaultKeepalived
}

// checkKeepalived tells, before anything starts, why VIP mode cannot run.
func (c *Cluster) checkKeepalived() error {
	if c.opts.Binaries.Keepalived == "" {
		return errors.New("vip mode: Binaries.Keepalived (herald-keepalived) is not set")
	}
	if _, err := exec.LookPath(c.keepalivedBinary()); err != nil {
		return fmt.Errorf("vip mode: %w (run `make deps`)", err)
	}
	return nil
}

// StopKeepaliveds ends every node's herald-keepalived with SIGTERM, as a
// pod's deletion does (keepalived hands its VIPs over and removes them),
// waits for them, and then checks by PID that none of the keepalived
// processes that ran in the nodes outlived them; those are killed and
// reported.
func (c *Cluster) StopKeepaliveds() error {
	var before []int
	for _, n := range c.Nodes {
		before = append(before, c.keepalivedPIDs(n.NS)...)
	}
	var errs []error
	for _, n := range c.Nodes {
		if n.Keepalived != nil {
			if err := n.Keepalived.Signal(syscall.SIGTERM); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, n := range c.Nodes {
		if n.Keepalived == nil {
			continue
		}
		if err := n.Keepalived.Stop(keepalivedStopGrace + 5*time.Second); err != nil {
			errs = append(errs, err)
		} else if err := n.Keepalived.Err(); err != nil {
			errs = append(errs, fmt.Errorf("node %s: herald-keepalived after SIGTERM: %w", n.Name, err))
		}
	}
	var left []int
	for _, pid := range before {
		if isKeepalived(pid) {
			left = append(left, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("keepalived processes %v outlived their supervisors (killed)", left))
	}
	return errors.Join(errs...)
}

// keepalivedPIDs lists the keepalived processes in namespace ns.
func (c *Cluster) keepalivedPIDs(ns string) []int {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && isKeepalived(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// isKeepalived reports whether pid is a live keepalived process.
func isKeepalived(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return false
	}
	return s[open+1:end] == "keepalived" && s[end+2] != 'Z'
}

// KeepalivedPIDs lists the keepalived processes running in the node's
// namespace (a supervisor's keepalived and its VRRP child).
func (n *Node) KeepalivedPIDs() []int { return n.c.keepalivedPIDs(n.NS) }
