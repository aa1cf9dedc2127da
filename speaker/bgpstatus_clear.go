package speaker

import (
	"encoding/json"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// clearablePeerState are the PeerState fields that go from set to empty
// while the entry stays: bfdState when a BgpPeer turns BFD off, lastError
// when a session recovers. A JSON merge patch leaves alone every key it
// does not mention, and these are omitted when empty, so they are sent as
// null, which deletes them.
var clearablePeerState = []string{"bfdState", "lastError"}

// withClears returns a node's BgpPeer status entry ready for a merge
// patch: the entry itself, with the empty clearable fields as nulls.
func withClears(entry any) (any, error) {
	e, ok := entry.(*v1alpha2.NodePeerStatus)
	if !ok || e == nil {
		return entry, nil
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	ps, _ := m["peerState"].(map[string]any)
	if ps == nil {
		ps = map[string]any{}
		m["peerState"] = ps
	}
	for _, k := range clearablePeerState {
		if _, set := ps[k]; !set {
			ps[k] = nil
		}
	}
	return m, nil
}
