package layer2

import "sync/atomic"

// ResponderCounters is a snapshot of what a Responder did since it started,
// for the speaker to export as metrics. Frame counts are of frames written
// successfully.
type ResponderCounters struct {
	// ARPReplies counts ARP requests answered.
	ARPReplies uint64
	// NeighborAdvertisements counts Neighbor Solicitations answered.
	NeighborAdvertisements uint64
	// GratuitousARPs counts gratuitous ARP frames: each IPv4 announcement
	// sends two, a request and a reply.
	GratuitousARPs uint64
	// UnsolicitedNAs counts unsolicited Neighbor Advertisements (IPv6
	// announcements).
	UnsolicitedNAs uint64
	// Conflicts counts frames in which another MAC claimed an owned address.
	Conflicts uint64
	// ReadErrors and WriteErrors count socket errors.
	ReadErrors  uint64
	WriteErrors uint64
}

// responderCounters is the live, lock-free form of ResponderCounters.
type responderCounters struct {
	arpReplies, naReplies, gratuitousARPs, unsolicitedNAs atomic.Uint64
	conflicts, readErrors, writeErrors                    atomic.Uint64
}

func (c *responderCounters) snapshot() ResponderCounters {
	return ResponderCounters{
		ARPReplies:             c.arpReplies.Load(),
		NeighborAdvertisements: c.naReplies.Load(),
		GratuitousARPs:         c.gratuitousARPs.Load(),
		UnsolicitedNAs:         c.unsolicitedNAs.Load(),
		Conflicts:              c.conflicts.Load(),
		ReadErrors:             c.readErrors.Load(),
		WriteErrors:            c.writeErrors.Load(),
	}
}
