package bfd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// apply reconciles the running sessions with want (see Manager.Apply).
func (l *loop) apply(want []SessionConfig, wg *sync.WaitGroup) error {
	now := l.m.opts.Now()
	keep := make(map[Key]bool, len(want))
	var errs []error
	for _, w := range want {
		if err := checkConfig(w); err != nil {
			errs = append(errs, err)
			continue
		}
		keep[w.Key] = true
		// Also for running sessions: it reopens a listener that failed.
		lerr := l.listen(w.Peer.Is6(), wg)
		if r, ok := l.sessions[w.Key]; ok {
			r.name = w.Name
			if r.s.cfg != w.Config {
				r.s.setConfig(w.Config, now)
			}
		}
		if lerr != nil {
			errs = append(errs, fmt.Errorf("bfd session %s (%s): %w", w.Key, w.Name, lerr))
			continue
		}
		if _, ok := l.sessions[w.Key]; ok {
			continue
		}
		tx, err := l.m.opts.Transport.Dial(w.Local, w.Peer)
		if err != nil {
			errs = append(errs, fmt.Errorf("bfd session %s (%s): %w", w.Key, w.Name, err))
			continue
		}
		r := &running{key: w.Key, name: w.Name, s: newSession(w.Config, l.newDisc(), now, l.m.opts.Jitter), tx: tx}
		l.sessions[w.Key] = r
		l.byDisc[r.s.localDisc] = r
		l.m.mu.Lock()
		l.m.states[w.Key] = Down
		l.m.mu.Unlock()
		l.m.opts.Log.V(1).Info("bfd session added", "peer", w.Name, "ip", w.Peer.String(), "local", w.Local.String())
	}
	for k, r := range l.sessions {
		if !keep[k] {
			l.remove(r, now)
		}
	}
	return errors.Join(errs...)
}

func checkConfig(w SessionConfig) error {
	switch {
	case !w.Peer.IsValid():
		return fmt.Errorf("bfd session %q: no peer address", w.Name)
	case w.Local.IsValid() && w.Local.Is6() != w.Peer.Is6():
		return fmt.Errorf("bfd session %s (%s): local and peer address of different families", w.Key, w.Name)
	case w.DesiredMinTx <= 0 || w.RequiredMinRx <= 0 || w.DetectMult == 0:
		return fmt.Errorf("bfd session %s (%s): intervals and multiplier must be positive", w.Key, w.Name)
	}
	return nil
}

// adminDownRepeats is how many AdminDown packets a removed session sends
// at once: a single one may be lost, and the peer would then count the
// silence as a failure.
const adminDownRepeats = 3

// remove tells the peer the session is AdminDown, so that it does not
// count the silence as a failure, and closes it.
func (l *loop) remove(r *running, now time.Time) {
	r.s.adminDown(now)
	for range adminDownRepeats {
		r.s.nextTx = now
		l.send(r.key, r, now)
	}
	r.tx.Close()
	delete(l.sessions, r.key)
	delete(l.byDisc, r.s.localDisc)
	l.m.mu.Lock()
	delete(l.m.states, r.key)
	l.m.mu.Unlock()
	l.m.opts.Log.V(1).Info("bfd session removed", "peer", r.name, "ip", r.key.Peer.String())
}

// newDisc is a random discriminator, nonzero and unused by this node.
func (l *loop) newDisc() uint32 {
	for {
		d := rand.Uint32()
		if _, used := l.byDisc[d]; d != 0 && !used {
			return d
		}
	}
}

// listen opens a family's listener the first time a session of it is
// added, with a goroutine that feeds its packets to the loop until the
// loop's context ends.
func (l *loop) listen(v6 bool, wg *sync.WaitGroup) error {
	if l.listeners[v6] {
		return nil
	}
	ln, err := l.m.opts.Transport.Listen(v6)
	if err != nil {
		return err
	}
	l.listeners[v6] = true
	wg.Add(2)
	go func() { defer wg.Done(); <-l.ctx.Done(); ln.Close() }()
	go func() { defer wg.Done(); l.m.read(l.ctx, ln, v6) }()
	return nil
}

// read feeds a listener's packets to the loop. A failed listener is closed
// and reported on lost: its family's sessions go down for want of packets,
// and the next Apply opens a new one.
func (m *Manager) read(ctx context.Context, ln Listener, v6 bool) {
	for {
		buf := make([]byte, 128)
		n, meta, err := ln.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil {
				m.opts.Log.Error(err, "bfd listener failed; sessions of its family go down until the next apply opens a new one")
				ln.Close()
				select {
				case m.lost <- v6:
				case <-ctx.Done():
				}
			}
			return
		}
		select {
		case m.rx <- received{b: buf[:n], meta: meta}:
		case <-ctx.Done():
			return
		}
	}
}

func (l *loop) closeAll() {
	now := l.m.opts.Now()
	for _, r := range l.sessions {
		l.remove(r, now)
	}
}

// notify delivers Events to OnChange in order until ctx ends.
func (m *Manager) notify(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		}
		m.mu.Lock()
		evs := m.events
		m.events = nil
		m.mu.Unlock()
		for _, e := range evs {
			if m.opts.OnChange != nil {
				m.opts.OnChange(e)
			}
		}
	}
}
