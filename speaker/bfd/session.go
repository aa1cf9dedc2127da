package bfd

import (
	"time"
)

// Config are one session's timer parameters.
type Config struct {
	// DesiredMinTx is the least interval between this node's packets that
	// it wants while the session is Up (bfd.DesiredMinTxInterval).
	DesiredMinTx time.Duration
	// RequiredMinRx is the least interval between the peer's packets this
	// node accepts (bfd.RequiredMinRxInterval).
	RequiredMinRx time.Duration
	// DetectMult is how many of the peer's intervals without a packet
	// take the peer's session down (bfd.DetectMult).
	DetectMult uint8
}

// Defaults are the settings of a BgpPeer that enables BFD and sets
// nothing else: 300 ms both ways and three missed packets, under a second
// to notice a dead node.
var Defaults = Config{DesiredMinTx: 300 * time.Millisecond, RequiredMinRx: 300 * time.Millisecond, DetectMult: 3}

// slowTx is the least transmit interval while the session is not Up (RFC
// 5880 §6.8.3): a session that is down costs a packet a second.
const slowTx = time.Second

// initialRemoteMinRx is bfd.RemoteMinRxInterval before the peer said
// anything (RFC 5880 §6.8.1: 1 µs, so that this node may send at once).
const initialRemoteMinRx = time.Microsecond

// session is the state machine of one BFD session (RFC 5880 §6.8) in
// asynchronous mode, Active role. It does no I/O and reads no clock: the
// caller passes the time to every method, which is what lets the tests
// drive the timers exactly. It is owned by the Manager's loop goroutine.
type session struct {
	cfg         Config
	state       State
	diag        Diag
	localDisc   uint32
	remoteDisc  uint32
	remoteState State
	// remoteMinRx and remoteTx are the peer's last Required Min RX and
	// Desired Min TX; remoteMult its last Detect Mult.
	remoteMinRx, remoteTx time.Duration
	remoteMult            uint8

	// desiredTx and requiredRx are what this node advertises. txInUse
	// and rxInUse are what it times with: they lag behind the advertised
	// values while a Poll Sequence for an increased TX or a reduced RX
	// interval runs (RFC 5880 §6.8.3).
	desiredTx, requiredRx time.Duration
	txInUse, rxInUse      time.Duration
	// poll: a Poll Sequence runs (P set until a Final arrives); final:
	// the next packet answers the peer's Poll and goes out at once.
	poll, final bool

	nextTx   time.Time // zero: no periodic transmission
	detectAt time.Time // zero: no detection timer running
	// jitter returns a number in [0, 1); the Manager's is random.
	jitter func() float64
}

func newSession(cfg Config, disc uint32, now time.Time, jitter func() float64) *session {
	s := &session{
		cfg: cfg, state: Down, localDisc: disc, remoteState: Down,
		remoteMinRx: initialRemoteMinRx, jitter: jitter, nextTx: now,
	}
	s.desiredTx, s.requiredRx = s.advertised()
	s.txInUse, s.rxInUse = s.desiredTx, s.requiredRx
	return s
}

// advertised are the intervals this node puts in its packets in its
// current state: never faster than slowTx while not Up.
func (s *session) advertised() (tx, rx time.Duration) {
	tx = s.cfg.DesiredMinTx
	if s.state != Up && tx < slowTx {
		tx = slowTx
	}
	return tx, s.cfg.RequiredMinRx
}

// reparam brings the advertised intervals in line with the configuration
// and the state, and starts a Poll Sequence when they change (RFC 5880
// §6.8.3). An increased TX interval and a reduced RX interval take effect
// in Up only once the peer has confirmed them with a Final.
func (s *session) reparam(now time.Time) {
	tx, rx := s.advertised()
	if tx == s.desiredTx && rx == s.requiredRx {
		return
	}
	if tx < s.desiredTx || s.state != Up {
		s.txInUse = tx
	}
	if rx > s.requiredRx || s.state != Up {
		s.rxInUse = rx
	}
	s.desiredTx, s.requiredRx = tx, rx
	s.poll = true
	// A shorter interval may apply at once; a pending longer wait would
	// otherwise delay it.
	if iv := s.txInterval(); !s.nextTx.IsZero() && iv > 0 && s.nextTx.After(now.Add(iv)) {
		s.nextTx = now.Add(s.jittered(iv))
	}
}

// setConfig applies new parameters to a running session.
func (s *session) setConfig(cfg Config, now time.Time) {
	s.cfg = cfg
	s.reparam(now)
}

// txInterval is the interval between periodic packets before jitter, or
// 0 when the peer asked for none (Required Min RX 0).
func (s *session) txInterval() time.Duration {
	if s.remoteMinRx == 0 {
		return 0
	}
	return max(s.txInUse, s.remoteMinRx)
}

// jittered applies RFC 5880 §6.8.7's jitter: 75-100 % of the interval,
// 75-90 % when the detect multiplier is 1.
func (s *session) jittered(iv time.Duration) time.Duration {
	span := 0.25
	if s.cfg.DetectMult == 1 {
		span = 0.15
	}
	return time.Duration(float64(iv) * (0.75 + span*s.jitter()))
}

// detectionTime is how long without a packet takes the session down: the
// peer's multiplier times the agreed interval of the peer's packets.
func (s *session) detectionTime() time.Duration {
	return time.Duration(s.remoteMult) * max(s.rxInUse, s.remoteTx)
}

// receive processes a packet Decode accepted and that was matched to this
// session (RFC 5880 §6.8.6, from "set bfd.RemoteDiscr" on). It returns the
// state before the packet; the state after is s.state.
func (s *session) receive(c Control, now time.Time) State {
	old := s.state
	s.remoteDisc = c.MyDiscriminator
	s.remoteState = c.State
	s.remoteTx, s.remoteMult = c.DesiredMinTx, c.DetectMult
	minRxChanged := c.RequiredMinRx != s.remoteMinRx
	s.remoteMinRx = c.RequiredMinRx
	if c.Final && s.poll {
		s.poll = false
		s.txInUse, s.rxInUse = s.desiredTx, s.requiredRx
	}
	if s.state == AdminDown {
		return old
	}
	if d := s.detectionTime(); d > 0 {
		s.detectAt = now.Add(d)
	}
	switch {
	case c.State == AdminDown:
		if s.state != Down {
			s.diag, s.state = DiagNeighborDown, Down
		}
	case s.state == Down && c.State == Down:
		s.state = Init
	case s.state == Down && c.State == Init, s.state == Init && (c.State == Init || c.State == Up):
		s.state, s.diag = Up, DiagNone
	case s.state == Up && c.State == Down:
		s.diag, s.state = DiagNeighborDown, Down
	}
	if c.Poll {
		s.final = true
	}
	if s.state != old {
		s.reparam(now)
	}
	switch iv := s.txInterval(); {
	case iv == 0:
		s.nextTx = time.Time{}
	case s.nextTx.IsZero() || minRxChanged && s.nextTx.After(now.Add(iv)):
		s.nextTx = now.Add(s.jittered(iv))
	}
	return old
}

// expire runs the detection timer: past it, a session in Init or Up goes
// Down, and the peer's discriminator is forgotten (RFC 5880 §6.8.1), so
// that a peer that restarts is taken up as a new one. It returns the state
// before.
func (s *session) expire(now time.Time) State {
	old := s.state
	if s.detectAt.IsZero() || now.Before(s.detectAt) {
		return old
	}
	s.detectAt = time.Time{}
	s.remoteDisc, s.remoteState = 0, Down
	if s.state == Init || s.state == Up {
		s.state, s.diag = Down, DiagDetectionExpired
		s.reparam(now)
	}
	return old
}

// adminDown takes the session down on purpose, as before it is removed:
// the peer sees AdminDown and must not treat it as a failure.
func (s *session) adminDown(now time.Time) {
	s.state, s.diag = AdminDown, DiagAdminDown
	s.detectAt = time.Time{}
	s.reparam(now)
}

// transmit returns the packet due at now, if any: an answer to a Poll at
// once, else the periodic one when its time has come, with the next one
// scheduled.
func (s *session) transmit(now time.Time) (Control, bool) {
	due := !s.nextTx.IsZero() && !now.Before(s.nextTx)
	if !due && !s.final {
		return Control{}, false
	}
	c := Control{
		Diag: s.diag, State: s.state, DetectMult: s.cfg.DetectMult,
		MyDiscriminator: s.localDisc, YourDiscriminator: s.remoteDisc,
		DesiredMinTx: s.desiredTx, RequiredMinRx: s.requiredRx,
	}
	if s.final {
		c.Final, s.final = true, false // never Poll and Final together
	} else {
		c.Poll = s.poll
	}
	if due {
		if iv := s.txInterval(); iv > 0 {
			s.nextTx = now.Add(s.jittered(iv))
		} else {
			s.nextTx = time.Time{}
		}
	}
	return c, true
}

// deadline is when the session next needs the clock: a packet to send or
// the detection timer; zero for never.
func (s *session) deadline() time.Time {
	d := s.nextTx
	if s.final {
		return time.Time{}.Add(1) // at once
	}
	if !s.detectAt.IsZero() && (d.IsZero() || s.detectAt.Before(d)) {
		d = s.detectAt
	}
	return d
}
