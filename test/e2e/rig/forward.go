package rig

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/herald-lb/herald/test/e2e/forward"
)

// nsforwardPkg is built by ForwardHost when Options.NSForward is empty.
const nsforwardPkg = "github.com/herald-lb/herald/test/e2e/cmd/nsforward"

// ForwardHost makes hostAddr, a TCP port on the host's loopback (the API
// server envtest started), reachable at the same address on the loopback
// of each namespace in nss, so that a kubeconfig written for the host works
// unchanged inside the nodes (the API server's certificate names
// 127.0.0.1). The path is: an nsforward process listening in the
// namespace, a unix socket in the state dir, and a relay in the test
// process that dials hostAddr. No address or route is added anywhere. It
// returns once every namespace's end accepts connections.
func (r *Rig) ForwardHost(ctx context.Context, hostAddr string, nss ...string) error {
	ap, err := netip.ParseAddrPort(hostAddr)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("forward %s: want a loopback address:port (the host's other addresses are off limits)", hostAddr)
	}
	for _, ns := range nss {
		if err := r.forwardHost(ctx, ap, ns, ap); err != nil {
			return err
		}
	}
	return nil
}

// ForwardHostAt is ForwardHost into one namespace at another address:
// hostAddr (on the host's loopback) is reachable in ns at listen, e.g.
// the API server at the router's LAN address, which the cluster testbed
// advertises to its pods and nodes.
func (r *Rig) ForwardHostAt(ctx context.Context, hostAddr, ns string, listen netip.AddrPort) error {
	ap, err := netip.ParseAddrPort(hostAddr)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("forward %s: want a loopback address:port (the host's other addresses are off limits)", hostAddr)
	}
	return r.forwardHost(ctx, ap, ns, listen)
}

func (r *Rig) forwardHost(ctx context.Context, ap netip.AddrPort, ns string, listen netip.AddrPort) error {
	sock, err := r.hostRelay(ap)
	if err != nil {
		return err
	}
	bin, err := r.NSForwardBinary(ctx)
	if err != nil {
		return err
	}
	name := forwardName(r, ns, ap)
	if listen != ap {
		name = fmt.Sprintf("%s-at-%s", name, listen.Addr())
	}
	logged := fileSize(filepath.Join(r.StateDir, name+".log"))
	p, err := r.Start(ns, name, []string{bin, "-listen", "tcp:" + listen.String(), "-connect", "unix:" + sock})
	if err != nil {
		return fmt.Errorf("forward %s into %s: %w", ap, ns, err)
	}
	err = Eventually(ctx, 10*time.Second, 10*time.Millisecond, func(context.Context) error {
		if !p.Running() {
			return fmt.Errorf("nsforward exited: %v", p.Err())
		}
		// Only this start's lines: a restarted forwarder's log
		// still holds its predecessor's.
		if !strings.Contains(readFrom(p.Log, logged), "nsforward: listening on") {
			return fmt.Errorf("not listening yet")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forward %s into %s: %w\n%s", ap, ns, err, p.Tail(10))
	}
	return nil
}

// CutForward kills the forwarders ForwardHost started for hostAddr in
// nss, as if the API server became unreachable from those nodes: open
// connections are reset, new ones refused. ForwardHost restores them.
func (r *Rig) CutForward(hostAddr string, nss ...string) error {
	ap, err := netip.ParseAddrPort(hostAddr)
	if err != nil {
		return fmt.Errorf("cut forward %s: %w", hostAddr, err)
	}
	for _, ns := range nss {
		name := forwardName(r, ns, ap)
		var found bool
		for _, p := range r.Procs() {
			if p.Name == name && p.Running() {
				found = true
				if err := p.Kill(); err != nil {
					return fmt.Errorf("cut forward %s in %s: %w", hostAddr, ns, err)
				}
			}
		}
		if !found {
			return fmt.Errorf("cut forward %s in %s: no forwarder running", hostAddr, ns)
		}
	}
	return nil
}

func forwardName(r *Rig, ns string, ap netip.AddrPort) string {
	return fmt.Sprintf("nsforward-%s-%d", strings.TrimPrefix(ns, r.Prefix), ap.Port())
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns the file's content after offset.
func readFrom(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < offset {
		return ""
	}
	return string(data[offset:])
}

// hostRelay starts (once per address) the host side: a unix socket in the
// state dir whose connections are relayed to ap; it returns the socket.
func (r *Rig) hostRelay(ap netip.AddrPort) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return "", fmt.Errorf("forward %s: rig is down", ap)
	}
	if sock, ok := r.forwards[ap.String()]; ok {
		return sock, nil
	}
	sock := filepath.Join(r.StateDir, fmt.Sprintf("fwd-%d.sock", ap.Port()))
	_ = os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return "", fmt.Errorf("forward %s: %w", ap, err)
	}
	r.forwards[ap.String()] = sock
	target := forward.Endpoint{Network: "tcp", Address: ap.String()}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		// Serve returns when the rig's context ends (Down); its errors
		// have no test to go to once the test that made the rig is over.
		_ = forward.Serve(r.ctx, l, target.Dialer())
	}()
	return sock, nil
}

// nsforward's binary is built once per test process, into the state dir of
// the process's rig number 0 (rigs count from 1), so that CleanupStale
// removes it once the process is gone.
var nsforwardBuild struct {
	sync.Mutex
	path string
}

// NSForwardBinary returns Options.NSForward, or builds nsforward with the
// go command (the go test that runs this has one; the build cache makes
// it take well under a second after the first time).
func (r *Rig) NSForwardBinary(ctx context.Context) (string, error) {
	if r.opts.NSForward != "" {
		return r.opts.NSForward, nil
	}
	nsforwardBuild.Lock()
	defer nsforwardBuild.Unlock()
	if nsforwardBuild.path != "" {
		if _, err := os.Stat(nsforwardBuild.path); err == nil {
			return nsforwardBuild.path, nil
		}
	}
	dir := stateDirOf(fmt.Sprintf("%s%d-0-", NamePrefix, os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build nsforward: %w", err)
	}
	if err := writeOwner(dir); err != nil {
		return "", fmt.Errorf("build nsforward: %w", err)
	}
	path := filepath.Join(dir, "nsforward")
	start := time.Now()
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if _, err := run(bctx, "go", "build", "-o", path, nsforwardPkg); err != nil {
		return "", fmt.Errorf("build nsforward: %w", err)
	}
	r.logf("built nsforward in %v", time.Since(start).Round(time.Millisecond))
	nsforwardBuild.path = path
	return path, nil
}

// ExposeToHost is ForwardHost's reverse: it makes nsAddr, a TCP port on
// the loopback of namespace ns (herald-controller's webhook server in a
// node), reachable from the host at the address it returns, a fresh port
// on the host's 127.0.0.1, so that the API server, which runs on the host,
// can call a webhook served inside a node. The path is a relay in the
// test process listening on the host, a unix socket in the state dir, and
// an nsforward process in ns that dials nsAddr. It returns once both ends
// accept connections; the relay stops with the rig.
func (r *Rig) ExposeToHost(ctx context.Context, ns string, nsAddr netip.AddrPort) (netip.AddrPort, error) {
	if !nsAddr.Addr().IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("expose %s of %s: want a loopback address:port", nsAddr, ns)
	}
	bin, err := r.NSForwardBinary(ctx)
	if err != nil {
		return netip.AddrPort{}, err
	}
	name := fmt.Sprintf("expose-%s-%d", strings.TrimPrefix(ns, r.Prefix), nsAddr.Port())
	sock := filepath.Join(r.StateDir, name+".sock")
	_ = os.Remove(sock)
	p, err := r.Start(ns, name, []string{bin, "-listen", "unix:" + sock, "-connect", "tcp:" + nsAddr.String()})
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("expose %s of %s: %w", nsAddr, ns, err)
	}
	err = Eventually(ctx, 10*time.Second, 10*time.Millisecond, func(context.Context) error {
		if !p.Running() {
			return fmt.Errorf("nsforward exited: %v", p.Err())
		}
		if !strings.Contains(readFrom(p.Log, 0), "nsforward: listening on") {
			return fmt.Errorf("not listening yet")
		}
		return nil
	})
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("expose %s of %s: %w\n%s", nsAddr, ns, err, p.Tail(10))
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return netip.AddrPort{}, fmt.Errorf("expose %s of %s: rig is down", nsAddr, ns)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("expose %s of %s: %w", nsAddr, ns, err)
	}
	target := forward.Endpoint{Network: "unix", Address: sock}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = forward.Serve(r.ctx, l, target.Dialer())
	}()
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
