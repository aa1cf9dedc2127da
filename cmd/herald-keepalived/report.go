package main

import (
	"errors"
	"os"
	"time"

	"github.com/go-logr/logr"

	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

// reporter turns what keepalived and its supervisor say into logs,
// metrics and the state file. The FIFO reader and the supervisor call it
// from their own goroutines; the Recorder and the metrics lock for
// themselves.
type reporter struct {
	metrics *keepalived.Metrics
	state   *vipdir.Recorder
	// configPath is config.json, which only the supervisor's goroutine
	// writes (verdict).
	configPath string
	log        logr.Logger
}

// event logs and counts a supervisor event (Supervisor.Report).
func (r *reporter) event(ev keepalived.Event) {
	r.metrics.Event(ev)
	kv := []any{"kind", string(ev.Kind)}
	if ev.Backoff > 0 {
		kv = append(kv, "backoff", ev.Backoff.String())
	}
	if ev.VIP.Addr.IsValid() {
		kv = append(kv, "ip", ev.VIP.Addr.Addr().String(), "interface", ev.VIP.Interface)
	}
	if ev.Err != nil {
		r.log.Error(ev.Err, "keepalived", kv...)
	} else {
		r.log.Info("keepalived", kv...)
	}
	if ev.Kind == keepalived.EventExited || ev.Kind == keepalived.EventStopped {
		r.stopped()
	}
}

// verdict publishes the supervisor's verdict on the candidates for the
// speaker (Supervisor.Verdicts), with keepalived's words about a refusal
// (keepalived.RefusalReason). The refusal itself is logged as an event.
func (r *reporter) verdict(v keepalived.Verdict) {
	var reason error
	if v.Err != nil {
		reason = errors.New(keepalived.RefusalReason(v.Err))
	}
	if err := vipdir.WriteConfigStatus(r.configPath, vipdir.NewConfigStatus(v.Live, v.Refused, reason)); err != nil {
		r.log.Error(err, "write vip config status")
	}
}

// notification records one VRRP state change read from notify_fifo.
func (r *reporter) notification(n keepalived.Notification) {
	r.metrics.Notification(n)
	r.log.Info("vrrp state", "ip", n.VIP.String(), "state", string(n.State), "priority", n.Priority)
	if err := r.state.Notify(n); err != nil {
		r.log.Error(err, "write vip state", "ip", n.VIP.String())
	}
}

// stopped records that keepalived has exited: its VIPs are no longer held
// by it, whatever it said last (a crashed keepalived says nothing more), so
// the state file and the metrics say STOP for each.
func (r *reporter) stopped() {
	changed, err := r.state.Stopped()
	if err != nil {
		r.log.Error(err, "write vip state")
	}
	for _, vip := range changed {
		r.metrics.Notification(keepalived.Notification{VIP: vip, State: keepalived.StateStop})
	}
}

// readStates feeds every notify_fifo line to notification until the FIFO
// is closed or drained (drainFIFO).
func (r *reporter) readStates(fifo *os.File) {
	err := keepalived.ReadNotifications(fifo, r.notification,
		func(err error) { r.log.Error(err, "unreadable notify_fifo line") })
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		r.log.Error(err, "notify_fifo reader stopped")
	}
}

// drainFIFO lets the reader take the lines keepalived wrote before it
// exited, then ends it: reads return what the pipe holds and time out once
// it is empty (we hold a writer ourselves, so it would never see EOF).
func drainFIFO(fifo *os.File) {
	if fifo.SetReadDeadline(time.Now().Add(200*time.Millisecond)) != nil {
		_ = fifo.Close() // not pollable: end the reader the hard way
	}
}
