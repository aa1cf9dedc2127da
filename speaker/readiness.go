package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-logr/logr"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// readiness is what the last reconcile made of the modes: it is replaced
// whole, never changed, so Ready reads it without a lock.
type readiness struct {
	// failing are the modes with work on this node whose last Apply
	// failed, sorted by name.
	failing []modeFailure
}

// modeFailure is one mode's last Apply error.
type modeFailure struct {
	mode string
	err  error
}

// Ready is a readyz check. It fails until a reconcile has applied a
// snapshot, and after that while a mode that has work on this node fails
// to apply it now, naming the mode and its error; it passes again as soon
// as the mode applies. A reconcile that cannot gather its snapshot leaves
// it as it was: the modes keep announcing what they announced.
//
// A mode has work on this node when an Eip of its protocol exists or, for
// BGP, when the BgpConf named default does (it brings sessions and
// Service ranges even without a bgp Eip), or, for Layer2, when a vip Eip
// does (the Layer2 mode runs the Lease session VIP mode ranks nodes by). So a BGP failure holds up a
// DaemonSet rollout on a node that serves Layer2 fine only when BGP is
// configured: the node then does not deliver what the cluster asks of it,
// and a rollout that went on would spread a broken build to every node. A
// mode with nothing to do never makes the node NotReady. Readiness only
// gates rollouts and alerts (no traffic goes through the speaker's Pod),
// and every mode's state, with work or not, is herald_speaker_mode_ready.
func (r *Reconciler) Ready(*http.Request) error {
	st := r.ready.Load()
	if st == nil {
		return errors.New("no snapshot applied yet")
	}
	if len(st.failing) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(st.failing))
	for _, f := range st.failing {
		msgs = append(msgs, fmt.Sprintf("%s mode: %v", f.mode, f.err))
	}
	return fmt.Errorf("not announcing what this node must: %s", strings.Join(msgs, "; "))
}

// applyModes applies d through every mode, records each mode's outcome
// (readiness, herald_speaker_mode_ready, a log line when a mode starts or
// stops failing) and returns the errors joined, each naming its mode.
func (r *Reconciler) applyModes(ctx context.Context, logger logr.Logger, snap Snapshot, d Desired) error {
	prev := r.ready.Load()
	var errs []error
	next := &readiness{}
	for _, name := range sortedKeys(r.Modes) {
		err := r.Modes[name].Apply(ctx, snap, d)
		r.Metrics.modeApplied(name, err == nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s mode: %w", name, err))
			if hasWork(name, snap) {
				next.failing = append(next.failing, modeFailure{mode: name, err: err})
			}
		}
		wasFailing := prev != nil && prev.isFailing(name)
		switch {
		case wasFailing && err == nil:
			logger.Info("mode applies again", "mode", name)
		case !wasFailing && err != nil && hasWork(name, snap):
			// The error itself is returned, and logged with it.
			logger.Info("mode fails to apply; node not ready until it does", "mode", name)
		}
	}
	if prev == nil {
		logger.Info("first snapshot applied", "bgpRoutes", len(d.BGP), "failingModes", len(next.failing))
	}
	r.ready.Store(next)
	return errors.Join(errs...)
}

func (st *readiness) isFailing(mode string) bool {
	for _, f := range st.failing {
		if f.mode == mode {
			return true
		}
	}
	return false
}

// hasWork reports whether the mode named after a protocol has anything to
// do on this node (see Ready).
func hasWork(mode string, snap Snapshot) bool {
	if mode == v1alpha2.ProtocolBGP && snap.BgpConf != nil {
		return true
	}
	for _, p := range snap.Pools {
		if p.Protocol == mode || (mode == v1alpha2.ProtocolLayer2 && p.Protocol == v1alpha2.ProtocolVIP) {
			return true
		}
	}
	return false
}
