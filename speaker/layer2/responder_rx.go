package layer2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mdlayher/ethernet"
)

// rxBufferLen is the read buffer size. ARP and Neighbor Discovery frames
// are small; a longer frame is cut and then fails the length checks.
const rxBufferLen = 4096

// maxReadBackoff caps the pause between reads that keep failing.
const maxReadBackoff = 5 * time.Second

// rxOutcome is what the Responder made of one frame it read. The handlers
// return it so that tests can assert on decisions, not only on output.
type rxOutcome int

const (
	rxAnswered       rxOutcome = iota + 1 // a reply was sent
	rxConflict                            // another MAC claims an owned address: reported
	rxNotOwned                            // a question about an address we do not own
	rxNoQuestion                          // valid, but asks nothing of us (a reply, an advertisement)
	rxOtherHost                           // addressed to another unicast MAC
	rxOwnFrame                            // sent by us
	rxOtherInterface                      // received on another interface, or VLAN-tagged
	rxInvalid                             // malformed, or fails the protocol's validity checks
	rxSendFailed                          // the reply could not be sent
)

var rxOutcomeNames = map[rxOutcome]string{
	rxAnswered: "answered", rxConflict: "conflict", rxNotOwned: "not owned",
	rxNoQuestion: "no question", rxOtherHost: "other host", rxOwnFrame: "own frame",
	rxOtherInterface: "other interface", rxInvalid: "invalid", rxSendFailed: "send failed",
}

func (o rxOutcome) String() string {
	if s, ok := rxOutcomeNames[o]; ok {
		return s
	}
	return fmt.Sprintf("rxOutcome(%d)", int(o))
}

// receive reads and handles the frames of one socket until ctx ends.
func (r *Responder) receive(ctx context.Context, family string, c frameConn, handle func([]byte, frameMeta) rxOutcome) {
	defer r.wg.Done()
	buf := make([]byte, rxBufferLen)
	var backoff time.Duration
	for {
		n, meta, err := c.ReadFrame(buf)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !r.readFailed(ctx, family, err, &backoff) {
				return
			}
			continue
		}
		backoff = 0
		out := handle(buf[:n], meta)
		if r.opts.trace != nil {
			r.opts.trace(family, out, buf[:n])
		}
	}
}

// readFailed logs a read error and pauses, longer for each error in a row,
// so that a failing socket does not spin. A link going down makes the next
// read fail once with ENETDOWN; reading then resumes when it comes back. It
// reports false when reading should stop: the Responder is closing, or the
// socket was closed under it.
func (r *Responder) readFailed(ctx context.Context, family string, err error, backoff *time.Duration) bool {
	r.counters.readErrors.Add(1)
	err = fmt.Errorf("interface %q: read %s frame: %w", r.link.name, family, err)
	switch {
	case errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrClosed), errors.Is(err, syscall.EBADF):
		r.log.Error(err, "socket closed, no longer answering", "family", family)
		return false
	case errors.Is(err, syscall.ENETDOWN):
		r.log.Info("link went down", "family", family)
	default:
		r.log.Error(err, "receive failed", "family", family)
	}
	*backoff = min(max(2**backoff, r.opts.readBackoff), maxReadBackoff)
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// checkFrame applies the checks both protocols share and parses the
// Ethernet header. A zero outcome means the frame is for us to look at.
func (r *Responder) checkFrame(b []byte, meta frameMeta, et ethernet.EtherType) (*ethernet.Frame, rxOutcome) {
	switch {
	case meta.pktType == pktOutgoing:
		return nil, rxOwnFrame
	case meta.ifIndex != r.link.index:
		return nil, rxOtherInterface
	}
	f := new(ethernet.Frame)
	if err := f.UnmarshalBinary(b); err != nil {
		return nil, rxInvalid
	}
	switch {
	case f.VLAN != nil || f.ServiceVLAN != nil:
		return nil, rxOtherInterface
	case f.EtherType != et:
		return nil, rxInvalid
	case bytes.Equal(f.Source, r.link.mac):
		return nil, rxOwnFrame
	case !r.addressedToUs(f.Destination, et):
		return nil, rxOtherHost
	}
	return f, 0
}

// addressedToUs tells whether a destination MAC is one we answer: ours, or
// for ARP broadcast, for IPv6 any multicast MAC (33:33:...). Why other
// unicast MACs are ignored is told at the top of responder.go.
func (r *Responder) addressedToUs(dst net.HardwareAddr, et ethernet.EtherType) bool {
	if bytes.Equal(dst, r.link.mac) {
		return true
	}
	if et == ethernet.EtherTypeARP {
		return bytes.Equal(dst, ethernet.Broadcast)
	}
	return len(dst) == 6 && dst[0] == 0x33 && dst[1] == 0x33
}

// write sends a frame and counts it.
func (r *Responder) write(c frameConn, frame []byte, sent *atomic.Uint64) error {
	if err := c.WriteFrame(frame); err != nil {
		r.counters.writeErrors.Add(1)
		return err
	}
	sent.Add(1)
	return nil
}

// reportConflict tells OnConflict that mac claims the owned address a. It
// is called outside mu, so the callback may change the owned set.
func (r *Responder) reportConflict(a netip.Addr, mac net.HardwareAddr) {
	r.counters.conflicts.Add(1)
	r.log.Info("another host claims an owned address", "ip", a, "mac", mac.String())
	if r.opts.OnConflict != nil {
		r.opts.OnConflict(a, bytes.Clone(mac))
	}
}

// isUnicastMAC tells whether a MAC can be a sender's: six bytes, group bit
// clear.
func isUnicastMAC(m net.HardwareAddr) bool {
	return len(m) == 6 && m[0]&1 == 0
}
