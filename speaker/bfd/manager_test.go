package bfd

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

// wire is an in-memory link between nodes: each address has a listener;
// senders deliver to the peer's listener with TTL 255 unless the link is
// cut.
type wire struct {
	mu        sync.Mutex
	listeners map[netip.Addr]*memListener // by the node's address
	cut       bool
	ttl       int
}

func newWire() *wire { return &wire{listeners: map[netip.Addr]*memListener{}, ttl: 255} }

// node is one end: its Transport listens as addr.
func (w *wire) node(addr netip.Addr) Transport { return memTransport{w: w, self: addr} }

func (w *wire) setCut(c bool) {
	w.mu.Lock()
	w.cut = c
	w.mu.Unlock()
}

type memTransport struct {
	w    *wire
	self netip.Addr
}

func (t memTransport) Listen(bool) (Listener, error) {
	l := &memListener{ch: make(chan received, 64), done: make(chan struct{})}
	t.w.mu.Lock()
	t.w.listeners[t.self] = l
	t.w.mu.Unlock()
	return l, nil
}

func (t memTransport) Dial(local, peer netip.Addr) (Sender, error) {
	if !local.IsValid() {
		local = t.self
	}
	return &memSender{w: t.w, src: local, dst: peer}, nil
}

type memListener struct {
	ch   chan received
	done chan struct{}
	once sync.Once
}

func (l *memListener) ReadFrom(b []byte) (int, Meta, error) {
	select {
	case r := <-l.ch:
		return copy(b, r.b), r.meta, nil
	case <-l.done:
		return 0, Meta{}, errors.New("closed")
	}
}

func (l *memListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

type memSender struct {
	w        *wire
	src, dst netip.Addr
}

func (s *memSender) Send(b []byte) error {
	s.w.mu.Lock()
	l, cut, ttl := s.w.listeners[s.dst], s.w.cut, s.w.ttl
	s.w.mu.Unlock()
	if cut || l == nil {
		return nil // lost silently, as on a dead link
	}
	select {
	case l.ch <- received{b: append([]byte(nil), b...), meta: Meta{Src: s.src, Dst: s.dst, TTL: ttl}}:
	default:
	}
	return nil
}

func (s *memSender) Close() error { return nil }

// recorder collects a Manager's Events.
type recorder struct {
	mu sync.Mutex
	ev []Event
}

func (r *recorder) add(e Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }

// waitFor polls until an event matching ok arrived, within d.
func (r *recorder) waitFor(t *testing.T, d time.Duration, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, e := range r.ev {
			if ok(e) {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s within %v; events: %+v", what, d, r.ev)
	return Event{}
}

func (r *recorder) reset() { r.mu.Lock(); r.ev = nil; r.mu.Unlock() }

var (
	addrA = netip.MustParseAddr("10.0.0.1")
	addrB = netip.MustParseAddr("10.0.0.2")
	fast  = Config{DesiredMinTx: 20 * ms, RequiredMinRx: 20 * ms, DetectMult: 3}
)

// pair starts two Managers on one wire, each with a session to the other.
func pair(t *testing.T, w *wire) (a, b *Manager, ra, rb *recorder) {
	t.Helper()
	ra, rb = &recorder{}, &recorder{}
	a = NewManager(Options{Transport: w.node(addrA), Log: testr.New(t), OnChange: ra.add})
	b = NewManager(Options{Transport: w.node(addrB), Log: testr.New(t), OnChange: rb.add})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, m := range []*Manager{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.Run(ctx) }()
	}
	if err := a.Apply(ctx, []SessionConfig{{Key: Key{Peer: addrB, Local: addrA}, Name: "b", Config: fast}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(ctx, []SessionConfig{{Key: Key{Peer: addrA}, Name: "a", Config: fast}}); err != nil {
		t.Fatal(err)
	}
	return a, b, ra, rb
}

func isUp(e Event) bool        { return e.New == Up }
func wentDown(e Event) bool    { return e.Old == Up && e.New == Down }
func (e Event) String() string { return e.Old.String() + "->" + e.New.String() }

func TestManagerUpCutRestore(t *testing.T) {
	w := newWire()
	a, _, ra, rb := pair(t, w)
	// Not Up, both send a packet a second: up within about 3 s.
	ra.waitFor(t, 5*time.Second, "a Up", isUp)
	rb.waitFor(t, 5*time.Second, "b Up", isUp)
	if got := a.States()[Key{Peer: addrB, Local: addrA}]; got != Up {
		t.Errorf("a.States() = %v, want Up", got)
	}

	w.setCut(true)
	cut := time.Now()
	e := ra.waitFor(t, 2*time.Second, "a Down after the cut", wentDown)
	if e.Diag != DiagDetectionExpired {
		t.Errorf("diag %d, want 1 (detection time expired)", e.Diag)
	}
	rb.waitFor(t, 2*time.Second, "b Down after the cut", wentDown)
	// 3 × 20 ms, and the peer's last packet may be up to 20 ms older.
	if took := time.Since(cut); took > time.Second {
		t.Errorf("down %v after the cut, want about 60 ms", took)
	}

	ra.reset()
	w.setCut(false)
	ra.waitFor(t, 5*time.Second, "a Up again", isUp)
}

func TestManagerRemoveSendsAdminDown(t *testing.T) {
	w := newWire()
	a, _, ra, rb := pair(t, w)
	ra.waitFor(t, 5*time.Second, "a Up", isUp)
	rb.waitFor(t, 5*time.Second, "b Up", isUp)
	if err := a.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	e := rb.waitFor(t, time.Second, "b Down", wentDown)
	if e.Diag != DiagNeighborDown {
		t.Errorf("b's diag %d, want 3 (neighbour signalled down)", e.Diag)
	}
	if n := len(a.States()); n != 0 {
		t.Errorf("a still has %d sessions", n)
	}
}

func TestManagerDropsTTLBelow255(t *testing.T) {
	w := newWire()
	w.ttl = 254
	_, _, ra, _ := pair(t, w)
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		ra.mu.Lock()
		n := len(ra.ev)
		ra.mu.Unlock()
		if n > 0 {
			t.Fatalf("state changed on packets with TTL 254: %+v", ra.ev)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestManagerApplyRejects(t *testing.T) {
	m := NewManager(Options{Transport: newWire().node(addrA), Log: testr.New(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	err := m.Apply(ctx, []SessionConfig{
		{Name: "no peer", Config: fast},
		{Key: Key{Peer: addrB, Local: netip.MustParseAddr("fd00::1")}, Name: "families", Config: fast},
		{Key: Key{Peer: addrB}, Name: "zero", Config: Config{}},
		{Key: Key{Peer: addrB}, Name: "good", Config: fast},
	})
	if err == nil {
		t.Error("Apply accepted bad sessions")
	}
	if n := len(m.States()); n != 1 {
		t.Errorf("%d sessions, want the good one", n)
	}
	cancel()
	<-done
	if err := m.Apply(context.Background(), nil); !errors.Is(err, ErrStopped) {
		t.Errorf("Apply after Run = %v, want ErrStopped", err)
	}
}

// TestManagerReopensFailedListener: a listener that fails is opened again
// by the next Apply, and the sessions come back Up.
func TestManagerReopensFailedListener(t *testing.T) {
	w := newWire()
	a, _, ra, _ := pair(t, w)
	ra.waitFor(t, 5*time.Second, "a Up", isUp)
	w.mu.Lock()
	failed := w.listeners[addrA]
	w.mu.Unlock()
	failed.Close() // ReadFrom fails from now on
	ra.reset()
	ra.waitFor(t, 2*time.Second, "a Down without its listener", wentDown)
	want := []SessionConfig{{Key: Key{Peer: addrB, Local: addrA}, Name: "b", Config: fast}}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := a.Apply(context.Background(), want); err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		reopened := w.listeners[addrA] != failed
		w.mu.Unlock()
		if reopened {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failed listener was not opened again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ra.waitFor(t, 5*time.Second, "a Up again", isUp)
}
