package rig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// NamePrefix starts the namespace names of every rig: a rig's own prefix
// is NamePrefix<pid>-<n>-, so that CleanupStale can tell the leftovers of
// a dead test process from the rigs of one still running.
const NamePrefix = "he2e-"

// Options shape a rig. The zero value is three nodes.
type Options struct {
	// Nodes is the number of node namespaces; 0 means 3.
	Nodes int
	// Prefix overrides the generated namespace prefix (it must start with
	// NamePrefix so that the cleanup sweeps find it).
	Prefix string
	// StateDir holds logs, configs and sockets; empty means
	// $TMPDIR/herald-e2e/<prefix>.
	StateDir string
	// NeighReachable is every interface's base_reachable_time; 0 means
	// 30 s, Linux's default, which is what real clients have.
	NeighReachable time.Duration
	// NSForward is a prebuilt test/e2e/cmd/nsforward binary; empty means
	// ForwardHost builds one with `go build` on first use.
	NSForward string
	// Logf receives the rig's progress lines (t.Logf); nil discards them.
	Logf func(format string, args ...any)
}

// Rig is a running testbed: the namespaces of its Plan, the processes
// started in them and the host-side ends of its forwarders.
type Rig struct {
	Plan
	// StateDir holds the logs of the processes, rendered configs and the
	// forwarders' unix sockets.
	StateDir string

	opts       Options
	hostBefore hostState
	ctx        context.Context // ends when Down starts
	cancel     context.CancelFunc
	wg         sync.WaitGroup // goroutines: forwarders, route watchers

	mu       sync.Mutex
	down     bool
	downErr  error
	procs    []*Proc
	nsFDs    map[string]netns.NsHandle
	handles  map[string]*netlink.Handle
	forwards map[string]string // host address -> unix socket

	// extra are the LAN hosts added after Up (AddLANHost), such as the
	// second ToR; they have their own lock because ownsNS runs under mu.
	extra extraHosts
}

// rigSeq numbers the rigs of this process.
var rigSeq atomic.Int64

// Up builds the topology of Plan in fresh namespaces, sets their sysctls,
// addresses and routes, and asserts the safety property: the router (and
// the client) cannot route to an address outside the testbed, and the
// host's namespace gained no link and no address. On error everything
// built so far is torn down.
func Up(ctx context.Context, opts Options) (*Rig, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.NeighReachable == 0 {
		opts.NeighReachable = 30 * time.Second
	}
	if opts.Prefix == "" {
		opts.Prefix = fmt.Sprintf("%s%d-%d-", NamePrefix, os.Getpid(), rigSeq.Add(1))
	}
	if !strings.HasPrefix(opts.Prefix, NamePrefix) {
		return nil, fmt.Errorf("rig up: prefix %q does not start with %q", opts.Prefix, NamePrefix)
	}
	plan, err := NewPlan(opts.Prefix, opts.Nodes)
	if err != nil {
		return nil, fmt.Errorf("rig up: %w", err)
	}
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join(stateBase(), strings.TrimSuffix(opts.Prefix, "-"))
	}

	start := time.Now()
	// A crashed run of a process that had our PID may have left namespaces
	// of the same names.
	if err := Cleanup(opts.Prefix); err != nil {
		return nil, fmt.Errorf("rig up: clean leftovers: %w", err)
	}
	before, err := snapshotHost()
	if err != nil {
		return nil, fmt.Errorf("rig up: %w", err)
	}
	if err := checkNoOverlap(before); err != nil {
		return nil, fmt.Errorf("rig up: %w", err)
	}
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("rig up: state dir: %w", err)
	}
	if err := writeOwner(opts.StateDir); err != nil {
		return nil, fmt.Errorf("rig up: %w", err)
	}

	rctx, cancel := context.WithCancel(context.Background())
	r := &Rig{
		Plan:       plan,
		StateDir:   opts.StateDir,
		opts:       opts,
		hostBefore: before,
		ctx:        rctx,
		cancel:     cancel,
		nsFDs:      map[string]netns.NsHandle{},
		handles:    map[string]*netlink.Handle{},
		forwards:   map[string]string{},
	}
	if err := r.build(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("rig up: %w", err), r.Down())
	}
	built := time.Since(start)
	if err := r.checkSafety(before); err != nil {
		return nil, errors.Join(fmt.Errorf("rig up: safety: %w", err), r.Down())
	}
	r.logf("rig %s up: %d namespaces, state in %s (built in %v, checked in %v)",
		opts.Prefix, len(plan.Namespaces()), opts.StateDir, built.Round(time.Millisecond), (time.Since(start) - built).Round(time.Millisecond))
	return r, nil
}

// Down stops every process the rig started (SIGTERM, then SIGKILL), kills
// by PID any other process found in its namespaces, closes the forwarders
// and deletes the namespaces. It is idempotent; the state dir is kept.
func (r *Rig) Down() error {
	r.mu.Lock()
	if r.down {
		r.mu.Unlock()
		return r.downErr
	}
	r.down = true
	procs := append([]*Proc(nil), r.procs...)
	r.mu.Unlock()

	start := time.Now()
	r.cancel()
	var errs []error
	var wg sync.WaitGroup
	errCh := make(chan error, len(procs))
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Stop(3 * time.Second); err != nil {
				errCh <- err
			}
		}()
	}
	wg.Wait()
	close(errCh)
	for err := range errCh {
		errs = append(errs, err)
	}
	if err := waitGroup(&r.wg, 5*time.Second); err != nil {
		errs = append(errs, fmt.Errorf("rig down: %w", err))
	}
	r.mu.Lock()
	handles, fds := r.handles, r.nsFDs
	r.handles, r.nsFDs = map[string]*netlink.Handle{}, map[string]netns.NsHandle{}
	r.mu.Unlock()
	for _, h := range handles {
		h.Close()
	}
	for _, fd := range fds {
		fd.Close()
	}
	if err := Cleanup(r.Prefix); err != nil {
		errs = append(errs, err)
	}
	if left, err := namespacesWithPrefix(r.Prefix); err != nil || len(left) > 0 {
		errs = append(errs, fmt.Errorf("rig down: namespaces left: %v %w", left, err))
	}
	r.logf("rig %s down in %v", r.Prefix, time.Since(start).Round(time.Millisecond))

	r.mu.Lock()
	r.downErr = errors.Join(errs...)
	r.mu.Unlock()
	return r.downErr
}

// Procs returns the processes started so far.
func (r *Rig) Procs() []*Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Proc(nil), r.procs...)
}

// Context ends when Down starts; goroutines a test ties to the rig use it.
func (r *Rig) Context() context.Context { return r.ctx }

// ownsNS reports whether ns is one of the rig's namespaces.
func (r *Rig) ownsNS(ns string) bool {
	for _, n := range r.Namespaces() {
		if n == ns {
			return true
		}
	}
	return r.extra.has(ns)
}

// handle is the netlink handle bound to namespace ns.
func (r *Rig) handle(ns string) (*netlink.Handle, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.handles[ns]
	if !ok {
		return nil, fmt.Errorf("no netlink handle for namespace %q (rig down?)", ns)
	}
	return h, nil
}

func (r *Rig) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

// waitGroup waits for wg, at most timeout.
func waitGroup(wg *sync.WaitGroup, timeout time.Duration) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("goroutines still running after %v", timeout)
	}
}
