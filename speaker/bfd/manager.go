package bfd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Key identifies a session: the peer's address and this node's. An
// invalid Local means the node's address is not known yet; the kernel
// then picks the source, and packets are matched by the peer alone.
type Key struct {
	Peer, Local netip.Addr
}

func (k Key) String() string { return fmt.Sprintf("%s-%s", k.Local, k.Peer) }

// SessionConfig is one session the Manager should run.
type SessionConfig struct {
	Key
	// Name is the owner's name for it (the BgpPeer's), carried in Events.
	Name string
	Config
}

// Event is a session changing state.
type Event struct {
	Key
	Name     string
	Old, New State
	// Diag says why the session left Up: the detection time expired, or
	// the peer said it is down.
	Diag Diag
}

// Options configure a Manager.
type Options struct {
	Transport Transport
	Log       logr.Logger
	// OnChange is called for every state change, in order, from a
	// goroutine of its own: a slow callback delays later events, never
	// the sessions.
	OnChange func(Event)
	// Now and Jitter replace the clock and the random jitter in tests.
	Now    func() time.Time
	Jitter func() float64
}

// Manager runs the BFD sessions of one node. One goroutine (Run) owns
// every session; Apply and States talk to it.
type Manager struct {
	opts    Options
	applyCh chan applyReq
	rx      chan received
	// lost carries the family (v6) of a listener that failed, so that the
	// next Apply opens it again.
	lost chan bool
	// stopped is closed when Run returns.
	stopped chan struct{}

	mu     sync.Mutex
	states map[Key]State
	events []Event
	wake   chan struct{}
}

type applyReq struct {
	want []SessionConfig
	done chan error
}

type received struct {
	b    []byte
	meta Meta
}

// NewManager returns a Manager that does nothing until Run.
func NewManager(opts Options) *Manager {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	return &Manager{
		opts: opts, applyCh: make(chan applyReq), stopped: make(chan struct{}), lost: make(chan bool, 2), rx: make(chan received, 256),
		states: map[Key]State{}, wake: make(chan struct{}, 1),
	}
}

// ErrStopped: Apply was called while no Run goroutine runs.
var ErrStopped = errors.New("bfd: manager not running")

// Apply makes the Manager run exactly the sessions in want: new ones
// start Down, changed parameters start a Poll Sequence, missing ones are
// sent AdminDown once and closed. Errors name their session; the other
// sessions are applied, and the next Apply retries the failed ones.
func (m *Manager) Apply(ctx context.Context, want []SessionConfig) error {
	req := applyReq{want: want, done: make(chan error, 1)}
	select {
	case m.applyCh <- req:
	case <-m.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.done
}

// States are the sessions' current states, by key.
func (m *Manager) States() map[Key]State {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[Key]State, len(m.states))
	for k, s := range m.states {
		out[k] = s
	}
	return out
}

// running is one session with its sender.
type running struct {
	key  Key
	name string
	s    *session
	tx   Sender
}

// loop is the state Run owns.
type loop struct {
	m         *Manager
	ctx       context.Context
	sessions  map[Key]*running
	byDisc    map[uint32]*running
	listeners map[bool]bool // family (v6) -> open
	buf       []byte
}

// Run runs the sessions until ctx ends, then closes every socket. Apply
// fails with ErrStopped once it has returned. Run once only.
func (m *Manager) Run(ctx context.Context) error {
	defer close(m.stopped)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); m.notify(ctx) }()
	l := &loop{m: m, ctx: ctx, sessions: map[Key]*running{}, byDisc: map[uint32]*running{}, listeners: map[bool]bool{}}
	defer l.closeAll()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := m.opts.Now()
		l.step(now)
		wait := time.Hour
		if d := l.deadline(); !d.IsZero() {
			wait = max(d.Sub(now), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case req := <-m.applyCh:
			req.done <- l.apply(req.want, &wg)
		case v6 := <-m.lost:
			delete(l.listeners, v6)
		case r := <-m.rx:
			l.receive(r, m.opts.Now())
		case <-timer.C:
		}
	}
}

// step runs every session's timers and sends what is due.
func (l *loop) step(now time.Time) {
	for k, r := range l.sessions {
		if old := r.s.expire(now); old != r.s.state {
			l.changed(k, r, old)
		}
		l.send(k, r, now)
	}
}

func (l *loop) send(k Key, r *running, now time.Time) {
	c, ok := r.s.transmit(now)
	if !ok {
		return
	}
	l.buf = c.Encode(l.buf[:0])
	if err := r.tx.Send(l.buf); err != nil {
		// Unreachable while a link is down: the detection timer says
		// what matters, so this is detail.
		l.m.opts.Log.V(1).Info("bfd send failed", "peer", r.name, "ip", k.Peer.String(), "error", err.Error())
	}
}

func (l *loop) deadline() time.Time {
	var d time.Time
	for _, r := range l.sessions {
		if sd := r.s.deadline(); !sd.IsZero() && (d.IsZero() || sd.Before(d)) {
			d = sd
		}
	}
	return d
}

// changed records a state change and queues its Event.
func (l *loop) changed(k Key, r *running, old State) {
	e := Event{Key: k, Name: r.name, Old: old, New: r.s.state, Diag: r.s.diag}
	l.m.mu.Lock()
	l.m.states[k] = r.s.state
	l.m.events = append(l.m.events, e)
	l.m.mu.Unlock()
	select {
	case l.m.wake <- struct{}{}:
	default:
	}
}

// receive matches a packet to its session (RFC 5880 §6.8.6) and hands it
// over. Dropped packets are logged at V(1) only: anyone on the link can
// send them.
func (l *loop) receive(r received, now time.Time) {
	drop := func(why string) {
		l.m.opts.Log.V(1).Info("bfd packet dropped", "ip", r.meta.Src.String(), "reason", why)
	}
	if r.meta.TTL != requiredTTL {
		drop(fmt.Sprintf("TTL %d, not 255: not from a neighbour on the link", r.meta.TTL))
		return
	}
	c, err := Decode(r.b)
	if err != nil {
		drop(err.Error())
		return
	}
	var run *running
	var key Key
	if c.YourDiscriminator != 0 {
		run = l.byDisc[c.YourDiscriminator]
		if run != nil {
			key = run.key
		}
	} else {
		for _, k := range []Key{{Peer: r.meta.Src, Local: r.meta.Dst}, {Peer: r.meta.Src}} {
			if run = l.sessions[k]; run != nil {
				key = k
				break
			}
		}
	}
	if run == nil || key.Peer != r.meta.Src {
		drop("no session")
		return
	}
	if old := run.s.receive(c, now); old != run.s.state {
		l.changed(key, run, old)
	}
	l.send(key, run, now) // a Final goes out at once
}
