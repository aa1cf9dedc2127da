package layer2

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// announceState is the announcement schedule of one owned address.
type announceState struct {
	repeatsLeft int
	next        time.Time // zero: nothing scheduled
}

// startSchedule returns the schedule of an address announced at now: the
// repeats, then the refreshes.
func (r *Responder) startSchedule(now time.Time) *announceState {
	st := &announceState{repeatsLeft: r.opts.AnnounceRepeats}
	r.advance(st, now)
	return st
}

// advance moves a schedule past an announcement made at now.
func (r *Responder) advance(st *announceState, now time.Time) {
	switch {
	case st.repeatsLeft > 0:
		st.repeatsLeft--
		st.next = now.Add(r.opts.AnnounceInterval)
	case r.opts.RefreshInterval > 0:
		st.next = now.Add(r.opts.jitter(r.opts.RefreshInterval))
	default:
		st.next = time.Time{}
	}
}

// rescheduleLocked sets the timer to the earliest scheduled announcement.
// Every change to a schedule ends with it, under mu, so the timer is always
// set when the lock is released.
func (r *Responder) rescheduleLocked(now time.Time) {
	var next time.Time
	for _, st := range r.owned {
		if !st.next.IsZero() && (next.IsZero() || st.next.Before(next)) {
			next = st.next
		}
	}
	if next.IsZero() {
		r.timer.Stop()
		return
	}
	r.timer.Reset(max(next.Sub(now), 0))
}

// announceLoop sends the scheduled announcements until ctx ends.
func (r *Responder) announceLoop(ctx context.Context) {
	defer r.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.timer.C():
		}
		r.announceDue()
	}
}

// announceDue sends the announcements that are due and sets the timer for
// the next ones. The timer is set before sending, so that a test that saw
// the frames may step its fake clock at once.
func (r *Responder) announceDue() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	now := r.opts.clock.Now()
	var due []netip.Addr
	for a, st := range r.owned {
		if !st.next.IsZero() && !st.next.After(now) {
			due = append(due, a)
			r.advance(st, now)
		}
	}
	r.rescheduleLocked(now)
	// One line per pass, not per address: with the link down every
	// announcement fails, and there may be many addresses.
	var first error
	failed := 0
	for _, a := range due {
		if err := r.announceLocked(a); err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	if failed > 0 {
		r.log.Error(first, "announcements failed", "failed", failed, "due", len(due))
	}
}

// announceLocked sends the announcement of an owned address: gratuitous ARP
// in both forms for IPv4, an unsolicited NA for IPv6. It is called with mu
// held, so a release cannot slip between the decision and the frame.
func (r *Responder) announceLocked(a netip.Addr) error {
	if a.Is4() {
		var errs []error
		for _, f := range []struct {
			form  string
			build func(netip.Addr) ([]byte, error)
		}{{"request", r.garpRequest}, {"reply", r.garpReply}} {
			frame, err := f.build(a)
			if err == nil {
				err = r.write(r.arp, frame, &r.counters.gratuitousARPs)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("interface %q: send gratuitous ARP %s for %s: %w", r.link.name, f.form, a, err))
			}
		}
		r.log.V(1).Info("sent gratuitous ARP", "ip", a)
		return errors.Join(errs...)
	}
	frame, err := r.unsolicitedNA(a)
	if err == nil {
		err = r.write(r.ndp, frame, &r.counters.unsolicitedNAs)
	}
	if err != nil {
		return fmt.Errorf("interface %q: send unsolicited neighbor advertisement for %s: %w", r.link.name, a, err)
	}
	r.log.V(1).Info("sent unsolicited neighbor advertisement", "ip", a)
	return nil
}
