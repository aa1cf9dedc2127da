package speaker

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// Keys of a node's BgpPeer status entry, from the API types' JSON tags.
var (
	peerStateKeys   = jsonKeys(reflect.TypeFor[v1alpha2.PeerState]())
	timersStateKeys = jsonKeys(reflect.TypeFor[v1alpha2.TimersState]())
)

// withClears returns a node's BgpPeer status entry ready for a merge
// patch: the entry itself, with every empty field of its peerState and
// timersState as null. A JSON merge patch leaves alone every key it does
// not mention, and empty fields are omitted, so without the nulls a field
// that goes from set to empty would stay for ever: bfdState when a BgpPeer
// turns BFD off, lastError when a session recovers, routerId and the
// negotiated timers when it goes down, uptime when GoBGP re-creates the
// neighbour, and the OpenELB fields Herald does not write. With them the
// object holds exactly the entry written, so a restarted speaker can tell
// by reading it that there is nothing to write.
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
	for part, keys := range map[string][]string{"peerState": peerStateKeys, "timersState": timersStateKeys} {
		fields, _ := m[part].(map[string]any)
		if fields == nil {
			fields = map[string]any{}
			m[part] = fields
		}
		for _, k := range keys {
			if _, set := fields[k]; !set {
				fields[k] = nil
			}
		}
	}
	return m, nil
}

// jsonKeys are the JSON names of a struct's fields.
func jsonKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}
