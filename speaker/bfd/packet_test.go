package bfd

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var upPacket = Control{
	State: Up, DetectMult: 3, MyDiscriminator: 7, YourDiscriminator: 9,
	DesiredMinTx: 300 * time.Millisecond, RequiredMinRx: 300 * time.Millisecond,
}

func TestDecode(t *testing.T) {
	valid := upPacket.Encode(nil)
	mod := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), valid...))
	}
	tests := []struct {
		name string
		in   []byte
		want Control
		err  error
	}{
		{name: "valid", in: valid, want: upPacket},
		{name: "trailing bytes past the length are ignored", in: append(append([]byte(nil), valid...), 0, 0), want: upPacket},
		{name: "poll", in: Control{State: Init, Poll: true, DetectMult: 1, MyDiscriminator: 1, YourDiscriminator: 2}.Encode(nil),
			want: Control{State: Init, Poll: true, DetectMult: 1, MyDiscriminator: 1, YourDiscriminator: 2}},
		{name: "down without your discriminator", in: Control{State: Down, Diag: DiagDetectionExpired, DetectMult: 3, MyDiscriminator: 1}.Encode(nil),
			want: Control{State: Down, Diag: DiagDetectionExpired, DetectMult: 3, MyDiscriminator: 1}},
		{name: "empty", in: nil, err: ErrShort},
		{name: "short", in: valid[:23], err: ErrShort},
		{name: "version 0", in: mod(func(b []byte) []byte { b[0] &= 0x1f; return b }), err: ErrVersion},
		{name: "version 2", in: mod(func(b []byte) []byte { b[0] = 2<<5 | b[0]&0x1f; return b }), err: ErrVersion},
		{name: "length below 24", in: mod(func(b []byte) []byte { b[3] = 20; return b }), err: ErrLength},
		{name: "length past the packet", in: mod(func(b []byte) []byte { b[3] = 25; return b }), err: ErrLength},
		{name: "authentication", in: mod(func(b []byte) []byte { b[1] |= 0x04; b[3] = 28; return append(b, 1, 4, 0, 0) }), err: ErrAuth},
		{name: "authentication too short", in: mod(func(b []byte) []byte { b[1] |= 0x04; return b }), err: ErrLength},
		{name: "detect multiplier 0", in: mod(func(b []byte) []byte { b[2] = 0; return b }), err: ErrDetectMult},
		{name: "multipoint", in: mod(func(b []byte) []byte { b[1] |= 0x01; return b }), err: ErrMultipoint},
		{name: "poll and final", in: mod(func(b []byte) []byte { b[1] |= 0x30; return b }), err: ErrPollFinal},
		{name: "my discriminator 0", in: mod(func(b []byte) []byte { copy(b[4:8], []byte{0, 0, 0, 0}); return b }), err: ErrMyDisc},
		{name: "up without your discriminator", in: mod(func(b []byte) []byte { copy(b[8:12], []byte{0, 0, 0, 0}); return b }), err: ErrYourDiscNeeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Decode error = %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeWireFormat(t *testing.T) {
	got := Control{Diag: DiagNeighborDown, State: Up, Final: true, DetectMult: 3, MyDiscriminator: 0x01020304,
		YourDiscriminator: 0x0a0b0c0d, DesiredMinTx: time.Second, RequiredMinRx: 300 * time.Millisecond}.Encode(nil)
	want := []byte{
		0x23, 0xd0, 3, 24, // version 1, diag 3; state Up, F; mult; length
		1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d,
		0x00, 0x0f, 0x42, 0x40, // 1,000,000 µs
		0x00, 0x04, 0x93, 0xe0, // 300,000 µs
		0, 0, 0, 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
}

// FuzzDecode: no input panics Decode, and whatever it accepts encodes
// back to a packet that decodes to the same thing.
func FuzzDecode(f *testing.F) {
	f.Add(upPacket.Encode(nil))
	f.Add(Control{State: Down, DetectMult: 1, MyDiscriminator: 1, Poll: true}.Encode(nil))
	f.Add([]byte{0x20, 0xc4, 3, 26, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(c.Encode(nil))
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", c, err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
