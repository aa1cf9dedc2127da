package speaker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/speaker/layer2"
	"github.com/herald-lb/herald/vipdir"
)

// ConfigSink receives this node's rendered keepalived.conf. The supervisor
// on the other side checks it with `keepalived -t` and reloads keepalived
// only when it passes and changed (see package keepalived).
type ConfigSink interface {
	WriteConfig(conf []byte) error
}

// VIPMode serves `protocol: vip` Eips by rendering this node's
// keepalived.conf and the track files of its externalTrafficPolicy Local
// VIPs; keepalived, run by the supervisor DaemonSet, holds the addresses.
// Every speaker renders from the same claims, VRIDs and members, so all
// rank every VIP alike (vipConfig) and VRRP elects the first-ranked live
// node without the speakers talking.
//
// The mode never touches an address itself, so a speaker that crashes,
// restarts or is upgraded moves no VIP: keepalived keeps running the last
// config it accepted. That is also why Shutdown leaves everything in place,
// and why Apply writes nothing until this node is among the members: a
// speaker that has not yet seen its own Lease would otherwise render every
// VIP without itself and hand them all to other nodes.
type VIPMode struct {
	// Node is this node's name.
	Node string
	// Settings are the cluster-wide VRRP settings, alike on all nodes.
	Settings keepalived.Settings
	// Members returns the live speakers (from their Leases).
	Members func() []VIPMember
	// Interfaces resolves the vip pools' interfaces on this node, e.g.
	// layer2.ResolveEipInterfaces over the route table and the carrier.
	Interfaces func(pools []eippool.Pool) layer2.EipInterfaces
	// InterfacesSynced, when set, says whether Interfaces can be trusted
	// yet (layer2.CarrierWatch.Synced): before the carrier watch's first
	// list every interface looks down, and a config rendered then would
	// leave this node out of every VIP and move them all away. Nothing is
	// written until it is true; its first sync wakes the reconciler.
	InterfacesSynced func() bool
	// Sink receives keepalived.conf (FileConfigSink).
	Sink ConfigSink
	// TrackDir is where this process writes track files: the directory
	// keepalived reads as Settings.TrackDir, which a container may mount
	// under another path. Empty means Settings.TrackDir.
	TrackDir string
	// States returns the VRRP states this node's keepalived reports
	// (VIPStateWatcher.States). With Client, the Services of the VIPs it
	// holds get this node as their holder annotation (vipHolders); nil
	// writes none.
	States func() vipdir.States
	// Verdict returns what this node's supervisor made of the configs
	// written (VIPStateWatcher.Config): Apply fails while the one last
	// written is refused, with a Warning event on the vip Eips this node
	// runs instances of (vipverdict.go). Nil follows none.
	Verdict func() (vipdir.ConfigStatus, bool)
	// PublishRefused, when set, publishes the vip Eips told of a refusal
	// while it lasts, and nil once a later config is accepted
	// (Layer2Mode.SetVIPConfigRefused: the node's Lease annotation the
	// controller turns into the Eips' KeepalivedConfigAccepted condition).
	// It must not block.
	PublishRefused func(eips []string)
	// PendingAfter is how long a config written may go unchecked before a
	// log line asks whether the supervisor runs; 0 means
	// DefaultVIPConfigPending.
	PendingAfter time.Duration
	// Client writes the holder annotation on Services and reads Eips for
	// their events; Recorder records the events.
	Client   client.Client
	Recorder events.EventRecorder
	Log      logr.Logger
	Metrics  *Metrics

	holders  vipHolders
	verdicts vipVerdicts
	// mu guards the fields below; Apply and Shutdown may run on different
	// goroutines. Nothing called under it calls back; vipVerdicts.wrote,
	// called under it, takes only its own leaf lock.
	mu sync.Mutex
	// written is the config last handed to Sink, nil until one was.
	written []byte
	// problems is the last set of problems logged, one per line.
	problems string
}

// Apply renders the config for d's vip claims and hands it to the sink
// when it changed, after updating the track files it names, and writes the
// holder annotation on the Services of the VIPs this node's keepalived
// holds. Problems with single VIPs (no VRID yet, no eligible node) are
// logged once each time the set of them changes, not on every reconcile.
func (m *VIPMode) Apply(ctx context.Context, snap Snapshot, d Desired) error {
	err := errors.Join(m.applyConfig(snap, d), m.checkVerdict(ctx))
	if m.States == nil {
		return err
	}
	return errors.Join(err, annotateHolders(ctx, m.Client, m.Recorder, m.Log, &m.holders, m.Node, snap, d.VIP, m.States()))
}

// applyConfig renders and writes keepalived.conf and the track files.
func (m *VIPMode) applyConfig(snap Snapshot, d Desired) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var pools []eippool.Pool
	for _, p := range snap.Pools {
		if p.Protocol == v1alpha2.ProtocolVIP {
			pools = append(pools, p)
		}
	}
	var members []VIPMember
	if len(d.VIP) > 0 {
		members = m.Members()
		if !slices.ContainsFunc(members, func(v VIPMember) bool { return v.Name == m.Node }) {
			m.Log.V(1).Info("vip mode waits for this node's membership; keepalived.conf left as it is", "node", m.Node)
			return nil
		}
	}
	resolved := layer2.EipInterfaces{}
	if len(pools) > 0 {
		if m.InterfacesSynced != nil && !m.InterfacesSynced() {
			m.Log.V(1).Info("vip mode waits for the carrier watch's first sync; keepalived.conf left as it is")
			return nil
		}
		resolved = m.Interfaces(pools)
		resolved = withhold(resolved, d.Ineligible)
	}
	ifaces := func(p eippool.Pool) (string, error) {
		if name, ok := resolved.Available[p.Name]; ok {
			return name, nil
		}
		if why := resolved.Unavailable[p.Name]; why != nil {
			return "", why
		}
		return "", fmt.Errorf("eip %q: interface not resolved", p.Name)
	}
	cfg, problems := vipConfig(m.Node, d.VIP, pools, snap.VRIDs, members, ifaces, m.Settings)
	m.logProblems(problems)

	// Track files first: a node that loses its last endpoint must drop the
	// VIP now (FAULT within milliseconds), not once keepalived reloads.
	local, trackErr := m.writeTrackFiles(cfg)
	if errors.Is(trackErr, errNoTrackDir) {
		// keepalived would drop the track files of a config naming a
		// missing directory and hold Local VIPs without endpoints.
		return trackErr
	}
	conf, err := keepalived.Render(cfg)
	if err != nil {
		// Nothing is written: keepalived keeps its last good config.
		return errors.Join(trackErr, fmt.Errorf("render keepalived.conf: %w", err))
	}
	if !bytes.Equal(conf, m.written) {
		if err := m.Sink.WriteConfig(conf); err != nil {
			if len(pools) > 0 || !errors.Is(err, fs.ErrNotExist) {
				return errors.Join(trackErr, fmt.Errorf("write keepalived.conf: %w", err))
			}
			// No vip pool and no shared directory: no supervisor runs
			// on this node, so there is no keepalived to empty. A cluster
			// without vip pools need not deploy one.
			m.Log.V(1).Info("no vip pool and no directory shared with herald-keepalived; nothing written", "error", err.Error())
		}
		m.written = conf
		m.Metrics.vipRendered(instancesOf(cfg, m.Node))
		hash := vipdir.ConfigHash(conf)
		after, check := m.pendingCheck(hash, len(pools) > 0)
		m.verdicts.wrote(hash, vipEipsOf(cfg, d.VIP, m.Node), after, check)
	}
	if err := keepalived.PruneTrackFiles(m.trackDir(), local); err != nil {
		return errors.Join(trackErr, err)
	}
	return trackErr
}

// writeTrackFiles writes the track file of every Local VIP this node takes
// part in, and updates the ones already there of Local VIPs it no longer
// does (its endpoint left: the instance keepalived still runs until it
// reloads must go to FAULT). A file holds 0 when this node may hold the
// VIP (it is among the VIP's ranked nodes, which for a Local VIP have a
// ready endpoint), 1 otherwise. It returns the Local VIPs of cfg, whose
// files stay; the others are pruned after the config is written, and
// removing them is harmless: a VIP that is no longer Local is held
// whatever the file says, and one that is gone has no Service left.
func (m *VIPMode) writeTrackFiles(cfg keepalived.Config) ([]netip.Addr, error) {
	dir := m.trackDir()
	existing := trackFileAddrs(dir)
	var local []netip.Addr
	var errs []error
	made := false
	for _, v := range cfg.VIPs {
		if !v.Local {
			continue
		}
		local = append(local, v.Addr)
		participant := slices.Contains(keepalived.Participants(v.Addr, v.Ranked, m.Settings.Participants), m.Node)
		if !participant && !existing[v.Addr] {
			continue
		}
		if !made {
			// keepalived ignores track files whose directory is missing,
			// and would then hold the VIP regardless of endpoints.
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return local, fmt.Errorf("%w: %w", errNoTrackDir, err)
			}
			made = true
		}
		if err := keepalived.WriteTrackFile(dir, v.Addr, slices.Contains(v.Ranked, m.Node)); err != nil {
			errs = append(errs, err) // names the VIP
		}
	}
	return local, errors.Join(errs...)
}

// instancesOf counts the VRRP instances cfg has node run: the VIPs whose
// participants include it.
func instancesOf(cfg keepalived.Config, node string) int {
	n := 0
	for _, v := range cfg.VIPs {
		if slices.Contains(keepalived.Participants(v.Addr, v.Ranked, cfg.Settings.Participants), node) {
			n++
		}
	}
	return n
}

// errNoTrackDir means the track directory could not be created; no
// config naming it is written then.
var errNoTrackDir = errors.New("track directory")

func (m *VIPMode) trackDir() string {
	if m.TrackDir != "" {
		return m.TrackDir
	}
	return m.Settings.TrackDir
}

// logProblems logs problems when they differ from the last ones logged.
func (m *VIPMode) logProblems(problems []VIPProblem) {
	lines := make([]string, len(problems))
	for i, p := range problems {
		lines[i] = p.String()
	}
	joined := strings.Join(lines, "\n")
	if joined == m.problems {
		return
	}
	m.problems = joined
	if len(problems) == 0 {
		m.Log.Info("every vip is served as expected")
		return
	}
	for _, p := range problems {
		m.Log.Info("vip not served as expected", "ip", p.Addr.String(), "reason", p.Reason)
	}
}

// Shutdown leaves keepalived's config and the track files as they are:
// keepalived runs in its own DaemonSet and keeps holding its VIPs while the
// speaker is away, so a speaker restart or upgrade moves none. Withdrawing
// here would hand every VIP of this node to a backup (a master-down
// interval without it) and back again when the speaker returns.
func (m *VIPMode) Shutdown(context.Context) error {
	m.verdicts.stop()
	return nil
}
