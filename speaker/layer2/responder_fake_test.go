package layer2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	testingclock "k8s.io/utils/clock/testing"
)

// Addresses of the responder tests. The Responder's interface has index
// rtIfIndex and MAC rtOurMAC; rtPeer* is a client, rtOtherMAC a third host.
const rtIfIndex = 7

var (
	rtOurMAC   = net.HardwareAddr{0x02, 0x4c, 0x32, 0, 0, 0x0a}
	rtPeerMAC  = net.HardwareAddr{0x02, 0x4c, 0x32, 0, 0, 0x0b}
	rtOtherMAC = net.HardwareAddr{0x02, 0x4c, 0x32, 0, 0, 0x0c}
	rtBcast    = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	rtZeroMAC  = net.HardwareAddr{0, 0, 0, 0, 0, 0}

	rtVIP4      = netip.MustParseAddr("192.0.2.100")
	rtVIP4b     = netip.MustParseAddr("192.0.2.101")
	rtNotOwned4 = netip.MustParseAddr("192.0.2.200")
	rtPeer4     = netip.MustParseAddr("192.0.2.2")
	rtVIP6      = netip.MustParseAddr("2001:db8::100")
	rtNotOwned6 = netip.MustParseAddr("2001:db8::200")
	rtPeer6     = netip.MustParseAddr("2001:db8::2")
	rtAllNodes  = netip.MustParseAddr("ff02::1")
)

// rtAddrCmp lets go-cmp compare netip.Addr values.
var rtAddrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// errSendTest is the error a fakeFrameConn's writes can be made to fail with.
var errSendTest = errors.New("test send failure")

var (
	_ frameConn   = (*fakeFrameConn)(nil)
	_ groupJoiner = (*fakeGroupJoiner)(nil)
)

// fakeFrameConn is a frameConn fed by the test through in, recording what
// is written.
type fakeFrameConn struct {
	in        chan fakeRead
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	out      [][]byte
	writeErr error
}

// fakeRead is one ReadFrame result: a frame or an error.
type fakeRead struct {
	frame []byte
	meta  frameMeta
	err   error
}

func newFakeFrameConn() *fakeFrameConn {
	return &fakeFrameConn{in: make(chan fakeRead, 16), closed: make(chan struct{})}
}

func (c *fakeFrameConn) ReadFrame(b []byte) (int, frameMeta, error) {
	select {
	case <-c.closed:
		return 0, frameMeta{}, net.ErrClosed
	case rd := <-c.in:
		if rd.err != nil {
			return 0, frameMeta{}, rd.err
		}
		return copy(b, rd.frame), rd.meta, nil
	}
}

func (c *fakeFrameConn) WriteFrame(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
		return net.ErrClosed
	default:
	}
	if c.writeErr != nil {
		return c.writeErr
	}
	c.out = append(c.out, slices.Clone(b))
	return nil
}

func (c *fakeFrameConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeFrameConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// sent returns the frames written so far, decoded.
func (c *fakeFrameConn) sent(t *testing.T) []sentFrame {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]sentFrame, 0, len(c.out))
	for _, b := range c.out {
		out = append(out, decodeSent(t, b))
	}
	return out
}

func (c *fakeFrameConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out)
}

func (c *fakeFrameConn) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = nil
}

// fakeGroupJoiner records multicast memberships.
type fakeGroupJoiner struct {
	mu      sync.Mutex
	joined  map[netip.Addr]bool
	calls   []string
	joinErr error
	closed  bool
}

func (g *fakeGroupJoiner) JoinGroup(a netip.Addr) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, "join "+a.String())
	if g.joinErr != nil {
		return g.joinErr
	}
	if g.joined[a] {
		return fmt.Errorf("join %s: already a member", a)
	}
	g.joined[a] = true
	return nil
}

func (g *fakeGroupJoiner) LeaveGroup(a netip.Addr) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, "leave "+a.String())
	if !g.joined[a] {
		return fmt.Errorf("leave %s: not a member", a)
	}
	delete(g.joined, a)
	return nil
}

func (g *fakeGroupJoiner) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.joined = map[netip.Addr]bool{}
	return nil
}

// members returns the groups joined, sorted.
func (g *fakeGroupJoiner) members() []netip.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []netip.Addr
	for a := range g.joined {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// rtConflict is one OnConflict call.
type rtConflict struct {
	Addr netip.Addr
	MAC  string
}

// respHarness is a Responder over fakes, with a fake clock.
type respHarness struct {
	r         *Responder
	arp, ndp  *fakeFrameConn
	groups    *fakeGroupJoiner
	clock     *testingclock.FakeClock
	logs      *rtLogSink
	conflicts chan rtConflict
}

// newRespHarness starts a Responder over fakes. Unless opts says otherwise:
// a fake clock, no jitter, OnConflict recording into h.conflicts.
func newRespHarness(t *testing.T, opts ResponderOptions) *respHarness {
	t.Helper()
	h := &respHarness{
		arp:       newFakeFrameConn(),
		ndp:       newFakeFrameConn(),
		groups:    &fakeGroupJoiner{joined: map[netip.Addr]bool{}},
		clock:     testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		logs:      &rtLogSink{},
		conflicts: make(chan rtConflict, 16),
	}
	if opts.clock == nil {
		opts.clock = h.clock
	}
	if opts.jitter == nil {
		opts.jitter = func(d time.Duration) time.Duration { return d }
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = h.logs.logger()
	}
	if opts.OnConflict == nil {
		opts.OnConflict = func(a netip.Addr, mac net.HardwareAddr) { h.conflicts <- rtConflict{a, mac.String()} }
	}
	link := respLink{name: "eth-test", index: rtIfIndex, mac: rtOurMAC}
	h.r = newResponder(link, h.arp, h.ndp, h.groups, opts)
	t.Cleanup(func() { _ = h.r.Close() })
	return h
}

// drainConflicts returns the conflicts reported so far.
func (h *respHarness) drainConflicts() []rtConflict {
	var out []rtConflict
	for {
		select {
		case c := <-h.conflicts:
			out = append(out, c)
		default:
			return out
		}
	}
}

// rtLogSink collects log lines.
type rtLogSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *rtLogSink) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lines = append(s.lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 1})
}

// find returns the lines that contain every one of subs.
func (s *rtLogSink) find(subs ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.lines {
		ok := true
		for _, sub := range subs {
			ok = ok && strings.Contains(l, sub)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// respWait polls cond until it holds or timeout passes.
func respWait(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Frame builders, written byte by byte, independently of the code under
// test.

// rtEthernet prepends an Ethernet header and pads to the 60-byte minimum.
func rtEthernet(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	b := slices.Concat([]byte(dst), []byte(src), []byte{byte(etherType >> 8), byte(etherType)}, payload)
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

// rtVLAN inserts an 802.1Q tag with VLAN id 100 into an Ethernet frame.
func rtVLAN(frame []byte) []byte {
	return slices.Concat(frame[:12], []byte{0x81, 0x00, 0x00, 100}, frame[12:])
}

// rtARP builds an Ethernet/IPv4 ARP packet in an Ethernet frame.
func rtARP(ethDst, ethSrc net.HardwareAddr, op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	s, d := spa.As4(), tpa.As4()
	p := slices.Concat([]byte{0, 1, 0x08, 0x00, 6, 4, byte(op >> 8), byte(op)}, []byte(sha), s[:], []byte(tha), d[:])
	return rtEthernet(ethDst, ethSrc, 0x0806, p)
}

// rtNDOpt is a link-layer address option: type 1 source, 2 target.
type rtNDOpt struct {
	typ byte
	mac net.HardwareAddr
}

// rtND builds an ICMPv6 Neighbor Discovery message (NS: 135, NA: 136) in
// IPv6 in Ethernet, with a correct checksum unless badSum.
func rtND(ethDst, ethSrc net.HardwareAddr, src, dst netip.Addr, hop byte, typ, flags byte, target netip.Addr, opts []rtNDOpt, badSum bool) []byte {
	tgt := target.As16()
	body := slices.Concat([]byte{typ, 0, 0, 0, flags, 0, 0, 0}, tgt[:])
	for _, o := range opts {
		body = slices.Concat(body, []byte{o.typ, 1}, []byte(o.mac))
	}
	sum := rtChecksum(src, dst, body)
	if badSum {
		sum ^= 0x5555
	}
	binary.BigEndian.PutUint16(body[2:], sum)
	s, d := src.As16(), dst.As16()
	ip := slices.Concat([]byte{0x60, 0, 0, 0, byte(len(body) >> 8), byte(len(body)), 58, hop}, s[:], d[:], body)
	return rtEthernet(ethDst, ethSrc, 0x86dd, ip)
}

// rtChecksum computes the ICMPv6 checksum over an explicit pseudo-header.
func rtChecksum(src, dst netip.Addr, body []byte) uint16 {
	s, d := src.As16(), dst.As16()
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(body)))
	all := slices.Concat(s[:], d[:], l[:], []byte{0, 0, 0, 58}, body)
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var sum uint64
	for i := 0; i < len(all); i += 2 {
		sum += uint64(binary.BigEndian.Uint16(all[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// rtSolicitedNodeMAC is the Ethernet address of a's solicited-node group.
func rtSolicitedNodeMAC(a netip.Addr) net.HardwareAddr {
	b := a.As16()
	return net.HardwareAddr{0x33, 0x33, 0xff, b[13], b[14], b[15]}
}

// sentFrame is a frame written by the Responder, decoded by the test into
// strings, so that go-cmp diffs read well.
type sentFrame struct {
	EthDst, EthSrc string
	// ARP
	Op                 int
	SHA, SPA, THA, TPA string
	// IPv6 Neighbor Advertisement
	Src, Dst   string
	HopLimit   int
	Flags      string // "R", "S", "O" for each flag set
	Target     string
	TLLA       string
	ChecksumOK bool
}

func decodeSent(t *testing.T, b []byte) sentFrame {
	t.Helper()
	if len(b) < 60 {
		t.Errorf("frame of %d bytes, shorter than Ethernet's minimum", len(b))
		return sentFrame{}
	}
	f := sentFrame{EthDst: net.HardwareAddr(b[0:6]).String(), EthSrc: net.HardwareAddr(b[6:12]).String()}
	p := b[14:]
	switch et := binary.BigEndian.Uint16(b[12:14]); et {
	case 0x0806:
		if !slices.Equal(p[:6], []byte{0, 1, 0x08, 0x00, 6, 4}) {
			t.Errorf("ARP header % x, want Ethernet/IPv4", p[:6])
		}
		f.Op = int(binary.BigEndian.Uint16(p[6:8]))
		f.SHA = net.HardwareAddr(p[8:14]).String()
		f.SPA = netip.AddrFrom4([4]byte(p[14:18])).String()
		f.THA = net.HardwareAddr(p[18:24]).String()
		f.TPA = netip.AddrFrom4([4]byte(p[24:28])).String()
	case 0x86dd:
		n := int(binary.BigEndian.Uint16(p[4:6]))
		if p[0]>>4 != 6 || p[6] != 58 || len(p) < 40+n {
			t.Errorf("not ICMPv6 in IPv6: % x", p[:8])
			return f
		}
		src, dst := netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		f.Src, f.Dst, f.HopLimit = src.String(), dst.String(), int(p[7])
		body := p[40 : 40+n]
		if body[0] != 136 || body[1] != 0 {
			t.Errorf("ICMPv6 type %d code %d, want a Neighbor Advertisement", body[0], body[1])
		}
		f.ChecksumOK = rtChecksum(src, dst, body) == 0
		for bit, name := range map[byte]string{0x80: "R", 0x40: "S", 0x20: "O"} {
			if body[4]&bit != 0 {
				f.Flags += name
			}
		}
		f.Flags = rtSortChars(f.Flags)
		f.Target = netip.AddrFrom16([16]byte(body[8:24])).String()
		for o := body[24:]; len(o) >= 8 && o[1] > 0; o = o[int(o[1])*8:] {
			if o[0] == 2 {
				f.TLLA = net.HardwareAddr(o[2:8]).String()
			}
		}
	default:
		t.Errorf("EtherType %#04x", et)
	}
	return f
}

func rtSortChars(s string) string {
	b := []byte(s)
	slices.Sort(b)
	return string(b)
}

// Expected frames.

func wantARPReply(ethDst net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) sentFrame {
	return sentFrame{EthDst: ethDst.String(), EthSrc: rtOurMAC.String(), Op: 2,
		SHA: rtOurMAC.String(), SPA: spa.String(), THA: tha.String(), TPA: tpa.String()}
}

func wantGARP(a netip.Addr) []sentFrame {
	return []sentFrame{
		{EthDst: rtBcast.String(), EthSrc: rtOurMAC.String(), Op: 1,
			SHA: rtOurMAC.String(), SPA: a.String(), THA: rtZeroMAC.String(), TPA: a.String()},
		{EthDst: rtBcast.String(), EthSrc: rtOurMAC.String(), Op: 2,
			SHA: rtOurMAC.String(), SPA: a.String(), THA: rtOurMAC.String(), TPA: a.String()},
	}
}

func wantNA(ethDst net.HardwareAddr, target, dst netip.Addr, flags string) sentFrame {
	return sentFrame{EthDst: ethDst.String(), EthSrc: rtOurMAC.String(),
		Src: target.String(), Dst: dst.String(), HopLimit: 255, Flags: flags,
		Target: target.String(), TLLA: rtOurMAC.String(), ChecksumOK: true}
}

func wantUnsolicitedNA(a netip.Addr) []sentFrame {
	return []sentFrame{wantNA(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, a, rtAllNodes, "O")}
}
