package bgp

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

func TestLoggerRecordsFailures(t *testing.T) {
	const addr = "192.0.2.1"
	tests := []struct {
		name   string
		msg    string
		fields log.Fields
		want   string
	}{{
		name:   "connection refused",
		msg:    "failed to connect",
		fields: log.Fields{"Topic": "Peer", "Key": addr, "Error": errors.New("dial tcp 192.0.2.1:179: connect: connection refused")},
		want:   "cannot connect: dial tcp 192.0.2.1:179: connect: connection refused",
	}, {
		name: "bad peer AS, as sent",
		msg:  "sent notification",
		fields: log.Fields{"Topic": "Peer", "Key": addr, "Data": bgp.NewMessageError(bgp.BGP_ERROR_OPEN_MESSAGE_ERROR,
			bgp.BGP_ERROR_SUB_BAD_PEER_AS, nil, "as number mismatch expected 65099, received 65000")},
		want: "sent NOTIFICATION code 2(open) subcode 2(bad peer as): as number mismatch expected 65099, received 65000",
	}, {
		name: "cease received, with a shutdown message",
		msg:  "received notification",
		fields: log.Fields{"Topic": "Peer", "Key": addr, "Code": uint8(bgp.BGP_ERROR_CEASE),
			"Subcode": uint8(bgp.BGP_ERROR_SUB_ADMINISTRATIVE_SHUTDOWN), "Communicated-Reason": "maintenance"},
		want: `received NOTIFICATION code 6(cease) subcode 2(administrative shutdown): "maintenance"`,
	}, {
		name:   "hold timer",
		msg:    "hold timer expired",
		fields: log.Fields{"Topic": "Peer", "Key": addr, "State": "BGP_FSM_ESTABLISHED"},
		want:   "hold timer expired: no message from the router within the hold time",
	}, {
		name:   "peer down after a read failure",
		msg:    "Peer Down",
		fields: log.Fields{"Topic": "Peer", "Key": addr, "Reason": "read-failed"},
		want:   "session down: read-failed",
	}, {
		name:   "peer down after a NOTIFICATION keeps the NOTIFICATION's words",
		msg:    "Peer Down",
		fields: log.Fields{"Topic": "Peer", "Key": addr, "Reason": "notification-received code 6(cease) subcode 2(administrative shutdown)"},
		want:   "",
	}, {
		name:   "any other error about the peer",
		msg:    "failed to set md5",
		fields: log.Fields{"Topic": "Peer", "Key": addr, "Err": errors.New("operation not permitted")},
		want:   "failed to set md5: operation not permitted",
	}, {
		name:   "a line about no peer",
		msg:    "failed to create routing policy",
		fields: log.Fields{"Topic": "Policy", "Error": errors.New("boom")},
		want:   "",
	}, {
		name:   "a peer line that is no failure",
		msg:    "Add a peer configuration",
		fields: log.Fields{"Topic": "Peer", "Key": addr},
		want:   "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			book := newPeerBook()
			l := &gobgpLogger{log: logr.Discard(), book: book}
			l.Warn(tt.msg, tt.fields)
			if diff := cmp.Diff(tt.want, book.lastError(netip.MustParseAddr(addr))); diff != "" {
				t.Errorf("last error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPeerWatcher(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	state := func(addr netip.Addr, s api.PeerState_SessionState) *api.WatchEventResponse {
		return &api.WatchEventResponse{Event: &api.WatchEventResponse_Peer{Peer: &api.WatchEventResponse_PeerEvent{
			Type: api.WatchEventResponse_PeerEvent_STATE,
			Peer: &api.Peer{
				State:     &api.PeerState{NeighborAddress: addr.String(), SessionState: s},
				Transport: &api.Transport{LocalAddress: "192.0.2.11"},
			},
		}}}
	}
	book := newPeerBook()
	book.setName(a, "tor-a")
	var got []PeerEvent
	w := &peerWatcher{book: book, notify: func(e PeerEvent) { got = append(got, e) }, last: map[netip.Addr]SessionState{}}

	w.handle(state(a, api.PeerState_ACTIVE))
	w.handle(state(a, api.PeerState_OPENSENT))
	book.setError(a, "stale error")
	w.handle(state(a, api.PeerState_ESTABLISHED))
	w.handle(state(b, api.PeerState_ESTABLISHED))
	w.handle(&api.WatchEventResponse{Event: &api.WatchEventResponse_Peer{Peer: &api.WatchEventResponse_PeerEvent{
		Type: api.WatchEventResponse_PeerEvent_INIT}}})
	book.setError(a, "hold timer expired")
	w.handle(state(a, api.PeerState_IDLE))
	w.handle(state(a, api.PeerState_ACTIVE))

	local := netip.MustParseAddr("192.0.2.11")
	want := []PeerEvent{
		{Peer: "tor-a", Address: a, Up: true, State: StateEstablished, LocalAddress: local},
		{Address: b, Up: true, State: StateEstablished, LocalAddress: local},
		{Peer: "tor-a", Address: a, State: StateIdle, Reason: "hold timer expired"},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
