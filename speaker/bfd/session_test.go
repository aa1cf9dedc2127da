package bfd

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const ms = time.Millisecond

// fixedJitter makes every jittered interval the same fraction.
func fixedJitter(v float64) func() float64 { return func() float64 { return v } }

// peerSays is a packet from the peer (discriminator 99) in state st, with
// 300 ms × 3 parameters.
func peerSays(st State, yourDisc uint32) Control {
	return Control{State: st, DetectMult: 3, MyDiscriminator: 99, YourDiscriminator: yourDisc,
		DesiredMinTx: 300 * ms, RequiredMinRx: 300 * ms}
}

// upSession is a session taken Up by the three-way handshake at t0, its
// Poll Sequence answered.
func upSession(t *testing.T) *session {
	t.Helper()
	s := newSession(Defaults, 1, t0, fixedJitter(0))
	s.receive(peerSays(Down, 0), t0)
	s.receive(peerSays(Up, 1), t0)
	if s.state != Up {
		t.Fatalf("handshake: state %v, want Up", s.state)
	}
	f := peerSays(Up, 1)
	f.Final = true
	s.receive(f, t0)
	if s.poll {
		t.Fatal("Final did not end the Poll Sequence")
	}
	s.transmit(t0) // flush
	return s
}

func TestSessionTransitions(t *testing.T) {
	tests := []struct {
		local, remote State
		want          State
		diag          Diag
	}{
		{Down, AdminDown, Down, DiagNone},
		{Down, Down, Init, DiagNone},
		{Down, Init, Up, DiagNone},
		{Down, Up, Down, DiagNone},
		{Init, AdminDown, Down, DiagNeighborDown},
		{Init, Down, Init, DiagNone},
		{Init, Init, Up, DiagNone},
		{Init, Up, Up, DiagNone},
		{Up, AdminDown, Down, DiagNeighborDown},
		{Up, Down, Down, DiagNeighborDown},
		{Up, Init, Up, DiagNone},
		{Up, Up, Up, DiagNone},
		{AdminDown, Down, AdminDown, DiagNone},
		{AdminDown, Up, AdminDown, DiagNone},
	}
	for _, tt := range tests {
		t.Run(tt.local.String()+"+"+tt.remote.String(), func(t *testing.T) {
			s := newSession(Defaults, 1, t0, fixedJitter(0))
			s.state = tt.local
			old := s.receive(peerSays(tt.remote, 1), t0)
			if old != tt.local || s.state != tt.want || s.diag != tt.diag {
				t.Errorf("got %v -> %v diag %d, want %v -> %v diag %d", old, s.state, s.diag, tt.local, tt.want, tt.diag)
			}
			if s.remoteDisc != 99 {
				t.Errorf("remote discriminator %d, want 99", s.remoteDisc)
			}
		})
	}
}

func TestSessionSlowWhileNotUp(t *testing.T) {
	s := newSession(Defaults, 1, t0, fixedJitter(0.5))
	c, ok := s.transmit(t0)
	want := Control{State: Down, DetectMult: 3, MyDiscriminator: 1, DesiredMinTx: time.Second, RequiredMinRx: 300 * ms}
	if !ok {
		t.Fatal("no first packet")
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("first packet (-want +got):\n%s", diff)
	}
	// 1 s × (0.75 + 0.25 × 0.5)
	if _, ok := s.transmit(t0.Add(874 * ms)); ok {
		t.Error("second packet before 875 ms")
	}
	if _, ok := s.transmit(t0.Add(875 * ms)); !ok {
		t.Error("no second packet at 875 ms")
	}
}

func TestSessionUpPollsFasterRate(t *testing.T) {
	s := newSession(Defaults, 1, t0, fixedJitter(0))
	s.receive(peerSays(Init, 1), t0)
	if s.state != Up {
		t.Fatalf("state %v, want Up", s.state)
	}
	c, ok := s.transmit(t0)
	if !ok || !c.Poll || c.DesiredMinTx != 300*ms || c.State != Up || c.YourDiscriminator != 99 {
		t.Fatalf("packet after Up = %+v (sent %v), want Poll with 300ms", c, ok)
	}
	if _, ok := s.transmit(t0.Add(224 * ms)); ok {
		t.Error("packet before 75 % of 300 ms")
	}
	c, _ = s.transmit(t0.Add(225 * ms))
	if !c.Poll {
		t.Error("Poll not repeated until a Final arrives")
	}
	f := peerSays(Up, 1)
	f.Final = true
	s.receive(f, t0.Add(230*ms))
	if c, _ := s.transmit(t0.Add(450 * ms)); c.Poll {
		t.Error("Poll still set after the Final")
	}
}

func TestSessionJitter(t *testing.T) {
	for _, tt := range []struct {
		mult   uint8
		jitter float64
		want   time.Duration
	}{
		{3, 0, 750 * ms}, {3, 0.9999, 999 * ms}, {1, 0, 750 * ms}, {1, 0.9999, 899 * ms},
	} {
		s := newSession(Config{DesiredMinTx: time.Second, RequiredMinRx: time.Second, DetectMult: tt.mult}, 1, t0, fixedJitter(tt.jitter))
		if got := s.jittered(time.Second).Truncate(ms); got != tt.want {
			t.Errorf("mult %d jitter %v: %v, want %v", tt.mult, tt.jitter, got, tt.want)
		}
	}
}

func TestSessionDetection(t *testing.T) {
	s := upSession(t)
	last := t0.Add(100 * ms)
	s.receive(peerSays(Up, 1), last)
	if old := s.expire(last.Add(899 * ms)); old != Up || s.state != Up {
		t.Fatalf("down before 3 × 300 ms")
	}
	if d := s.deadline(); d.After(last.Add(900 * ms)) {
		t.Errorf("deadline %v after the detection time", d.Sub(last))
	}
	if old := s.expire(last.Add(900 * ms)); old != Up || s.state != Down || s.diag != DiagDetectionExpired {
		t.Fatalf("after 3 × 300 ms: %v -> %v diag %d, want Up -> Down diag 1", old, s.state, s.diag)
	}
	c, _ := s.transmit(last.Add(900 * ms))
	if c.YourDiscriminator != 0 || c.DesiredMinTx != time.Second || !c.Poll || c.Diag != DiagDetectionExpired {
		t.Errorf("packet after expiry = %+v, want your discriminator 0, 1 s, Poll, diag 1", c)
	}
}

func TestSessionDetectionUsesSlowerSide(t *testing.T) {
	s := upSession(t)
	slow := peerSays(Up, 1)
	slow.DesiredMinTx, slow.DetectMult = time.Second, 5
	s.receive(slow, t0)
	if got := s.detectAt.Sub(t0); got != 5*time.Second {
		t.Errorf("detection time %v, want 5 × max(300ms, 1s)", got)
	}
}

func TestSessionAnswersPollAtOnce(t *testing.T) {
	s := upSession(t)
	s.setConfig(Config{DesiredMinTx: 100 * ms, RequiredMinRx: 300 * ms, DetectMult: 3}, t0) // our own Poll runs
	p := peerSays(Up, 1)
	p.Poll = true
	s.receive(p, t0.Add(10*ms))
	if d := s.deadline(); d.After(t0) {
		t.Errorf("deadline %v: the Final must go out at once", d)
	}
	c, ok := s.transmit(t0.Add(10 * ms))
	if !ok || !c.Final || c.Poll {
		t.Errorf("answer = %+v (sent %v), want Final without Poll", c, ok)
	}
	if c, _ := s.transmit(t0.Add(400 * ms)); !c.Poll || c.Final {
		t.Errorf("next periodic = %+v, want our Poll again", c)
	}
}

func TestSessionParameterChangesWaitForFinal(t *testing.T) {
	s := upSession(t)
	s.setConfig(Config{DesiredMinTx: time.Second, RequiredMinRx: 100 * ms, DetectMult: 3}, t0)
	if !s.poll || s.desiredTx != time.Second || s.txInUse != 300*ms || s.rxInUse != 300*ms {
		t.Fatalf("before Final: poll %v desired %v in use tx %v rx %v; want the old intervals in use", s.poll, s.desiredTx, s.txInUse, s.rxInUse)
	}
	f := peerSays(Up, 1)
	f.Final = true
	s.receive(f, t0)
	if s.txInUse != time.Second || s.rxInUse != 100*ms {
		t.Errorf("after Final: in use tx %v rx %v, want 1s and 100ms", s.txInUse, s.rxInUse)
	}
	// Faster TX and slower RX apply at once.
	s.setConfig(Config{DesiredMinTx: 50 * ms, RequiredMinRx: 500 * ms, DetectMult: 3}, t0)
	if s.txInUse != 50*ms || s.rxInUse != 500*ms {
		t.Errorf("in use tx %v rx %v, want 50ms and 500ms at once", s.txInUse, s.rxInUse)
	}
}

func TestSessionHonoursPeerRates(t *testing.T) {
	s := upSession(t)
	slow := peerSays(Up, 1)
	slow.RequiredMinRx = time.Second
	s.receive(slow, t0)
	if iv := s.txInterval(); iv != time.Second {
		t.Errorf("tx interval %v, want the peer's 1 s", iv)
	}
	none := peerSays(Up, 1)
	none.RequiredMinRx = 0
	s.receive(none, t0)
	if _, ok := s.transmit(t0.Add(time.Hour)); ok || !s.nextTx.IsZero() {
		t.Error("periodic packets to a peer that wants none")
	}
}

func TestSessionAdminDown(t *testing.T) {
	s := upSession(t)
	s.adminDown(t0)
	s.nextTx = t0
	c, _ := s.transmit(t0)
	if c.State != AdminDown || c.Diag != DiagAdminDown {
		t.Errorf("packet = %+v, want AdminDown diag 7", c)
	}
	if old := s.expire(t0.Add(time.Hour)); old != AdminDown || s.state != AdminDown {
		t.Error("AdminDown left by the detection timer")
	}
}
