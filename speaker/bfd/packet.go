package bfd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// State is a BFD session state (RFC 5880 §4.1, the Sta field).
type State uint8

// The session states, with the wire values of the Sta field.
const (
	AdminDown State = 0
	Down      State = 1
	Init      State = 2
	Up        State = 3
)

func (s State) String() string {
	switch s {
	case AdminDown:
		return "AdminDown"
	case Down:
		return "Down"
	case Init:
		return "Init"
	case Up:
		return "Up"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Diag is the diagnostic code a system sends to say why its session last
// left Up (RFC 5880 §4.1). Herald sets only the codes it can cause.
type Diag uint8

// The diagnostic codes Herald sends or may receive.
const (
	DiagNone             Diag = 0
	DiagDetectionExpired Diag = 1
	DiagNeighborDown     Diag = 3
	DiagAdminDown        Diag = 7
)

// version is the only BFD version there is (RFC 5880 §4.1).
const version = 1

// packetLen is the length of a control packet without authentication,
// the only kind Herald sends and accepts.
const packetLen = 24

// Control is one BFD Control packet. Intervals are carried on the wire in
// microseconds; here they are durations.
type Control struct {
	Diag  Diag
	State State
	// Poll asks the other system to confirm a parameter change; Final is
	// that confirmation. A packet never carries both.
	Poll, Final bool
	// ControlPlaneIndependent, AuthPresent, Demand and Multipoint are the
	// C, A, D and M bits. Herald sends all four clear.
	ControlPlaneIndependent, AuthPresent, Demand, Multipoint bool
	DetectMult                                               uint8
	MyDiscriminator, YourDiscriminator                       uint32
	DesiredMinTx, RequiredMinRx, RequiredMinEchoRx           time.Duration
}

// Decoding errors. Every packet that fails these checks is dropped (RFC
// 5880 §6.8.6); the error says why, for V(1) logs and counters.
var (
	ErrShort          = errors.New("bfd: packet shorter than 24 bytes")
	ErrVersion        = errors.New("bfd: version is not 1")
	ErrLength         = errors.New("bfd: length field disagrees with the packet")
	ErrDetectMult     = errors.New("bfd: detect multiplier is zero")
	ErrMultipoint     = errors.New("bfd: multipoint bit set")
	ErrMyDisc         = errors.New("bfd: my discriminator is zero")
	ErrYourDiscNeeded = errors.New("bfd: your discriminator is zero but the state is neither Down nor AdminDown")
	ErrAuth           = errors.New("bfd: authentication present, which Herald does not do")
	ErrPollFinal      = errors.New("bfd: both poll and final bits set")
)

// Decode parses a control packet and runs the checks of RFC 5880 §6.8.6
// that need no session. The packet is never kept.
func Decode(b []byte) (Control, error) {
	var c Control
	if len(b) < packetLen {
		return c, ErrShort
	}
	if b[0]>>5 != version {
		return c, ErrVersion
	}
	c.Diag = Diag(b[0] & 0x1f)
	c.State = State(b[1] >> 6)
	c.Poll = b[1]&0x20 != 0
	c.Final = b[1]&0x10 != 0
	c.ControlPlaneIndependent = b[1]&0x08 != 0
	c.AuthPresent = b[1]&0x04 != 0
	c.Demand = b[1]&0x02 != 0
	c.Multipoint = b[1]&0x01 != 0
	c.DetectMult = b[2]
	length := int(b[3])
	minLen := packetLen
	if c.AuthPresent {
		minLen = 26 // the authentication section's type and length at least
	}
	if length < minLen || length > len(b) {
		return c, ErrLength
	}
	if c.AuthPresent {
		return c, ErrAuth
	}
	if c.DetectMult == 0 {
		return c, ErrDetectMult
	}
	if c.Multipoint {
		return c, ErrMultipoint
	}
	if c.Poll && c.Final {
		return c, ErrPollFinal
	}
	c.MyDiscriminator = binary.BigEndian.Uint32(b[4:])
	c.YourDiscriminator = binary.BigEndian.Uint32(b[8:])
	c.DesiredMinTx = micros(binary.BigEndian.Uint32(b[12:]))
	c.RequiredMinRx = micros(binary.BigEndian.Uint32(b[16:]))
	c.RequiredMinEchoRx = micros(binary.BigEndian.Uint32(b[20:]))
	if c.MyDiscriminator == 0 {
		return c, ErrMyDisc
	}
	if c.YourDiscriminator == 0 && c.State != Down && c.State != AdminDown {
		return c, ErrYourDiscNeeded
	}
	return c, nil
}

// Encode appends the packet, without authentication, to b.
func (c Control) Encode(b []byte) []byte {
	var flags byte
	for _, f := range []struct {
		set bool
		bit byte
	}{{c.Poll, 0x20}, {c.Final, 0x10}, {c.ControlPlaneIndependent, 0x08}, {c.AuthPresent, 0x04}, {c.Demand, 0x02}, {c.Multipoint, 0x01}} {
		if f.set {
			flags |= f.bit
		}
	}
	b = append(b, version<<5|byte(c.Diag)&0x1f, byte(c.State)<<6|flags, c.DetectMult, packetLen)
	b = binary.BigEndian.AppendUint32(b, c.MyDiscriminator)
	b = binary.BigEndian.AppendUint32(b, c.YourDiscriminator)
	b = binary.BigEndian.AppendUint32(b, toMicros(c.DesiredMinTx))
	b = binary.BigEndian.AppendUint32(b, toMicros(c.RequiredMinRx))
	return binary.BigEndian.AppendUint32(b, toMicros(c.RequiredMinEchoRx))
}

func micros(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }

// toMicros saturates: an interval past 71 minutes is sent as the largest
// one the field holds.
func toMicros(d time.Duration) uint32 {
	us := d / time.Microsecond
	if us < 0 {
		return 0
	}
	if us > 0xffffffff {
		return 0xffffffff
	}
	return uint32(us)
}
