package speaker

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// rxResponder is a fake responder with a receive goroutine, as
// layer2.Responder has: the goroutine reports a conflict when it starts
// and another as Close begins, which is what a conflicting frame read
// while the responder closes does, and Close waits for it to end.
type rxResponder struct {
	fakeResponder
	closing   chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newRxResponder(addr netip.Addr, onConflict func(netip.Addr, net.HardwareAddr)) *rxResponder {
	r := &rxResponder{closing: make(chan struct{}), done: make(chan struct{})}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 7}
	go func() {
		defer close(r.done)
		onConflict(addr, mac)
		<-r.closing
		onConflict(addr, mac) // the frame read as Close began
	}()
	return r
}

func (r *rxResponder) Close() error {
	r.closeOnce.Do(func() {
		close(r.closing)
		<-r.done // as layer2.Responder.Close waits for its goroutines
	})
	return r.fakeResponder.Close()
}

// TestLayer2ModeConflictWhileClosing: a conflict delivered by a
// responder's receive goroutine while the mode closes that responder
// (the owned set empties, or Shutdown) must not deadlock the mode.
func TestLayer2ModeConflictWhileClosing(t *testing.T) {
	const rounds = 200
	for _, how := range []string{"apply", "shutdown"} {
		t.Run(how, func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range rounds {
					f := newL2Fixture(t)
					f.mode.HandOverTimeout = time.Millisecond
					f.mode.Trigger = func() {}
					f.mode.Responders = func(iface string, onConflict func(netip.Addr, net.HardwareAddr)) (L2Responder, error) {
						return newRxResponder(netip.MustParseAddr("192.0.2.1"), onConflict), nil
					}
					claims := l2TestClaims()
					f.members.m.Frozen = true // conflicts then also trigger
					if err := f.mode.Apply(context.Background(), f.snap, Desired{Layer2: claims}); err != nil {
						t.Error(err)
						return
					}
					var err error
					if how == "apply" {
						err = f.mode.Apply(context.Background(), f.snap, Desired{})
					} else {
						err = f.mode.Shutdown(context.Background())
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s did not finish %d rounds within 10s: closing a responder whose receive goroutine reports a conflict deadlocks the Layer2 mode", how, rounds)
			}
		})
	}
}
