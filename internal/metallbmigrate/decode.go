package metallbmigrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// metallbGroup is the API group of MetalLB's resources; any version is
// read (v1beta1, v1beta2), since their fields differ by addition only.
const metallbGroup = "metallb.io"

// document is one input object as JSON, with what identifies it.
type document struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   objectMeta      `json:"metadata"`
	Spec       json.RawMessage `json:"spec"`
	Data       map[string]any  `json:"data"`
}

// Read parses every YAML or JSON document of r (name is used in errors)
// into m. Kinds it does not know are noted, not refused, so that a whole
// `kubectl get -n metallb-system ... -o yaml` can be fed in.
func (m *model) Read(name string, r io.Reader) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for i := 0; ; i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		if err := m.readObject(name, raw); err != nil {
			return err
		}
	}
}

func (m *model) readObject(file string, raw json.RawMessage) error {
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var items struct {
		Items []json.RawMessage `json:"items"`
	}
	group, _, _ := strings.Cut(doc.APIVersion, "/")
	src := source(fmt.Sprintf("%s %q", doc.Kind, key(doc.Metadata)))
	switch {
	case doc.Kind == "List" || strings.HasSuffix(doc.Kind, "List") && doc.APIVersion != "":
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("%s: %s: %w", file, doc.Kind, err)
		}
		for _, it := range items.Items {
			if err := m.readObject(file, it); err != nil {
				return err
			}
		}
		return nil
	case doc.Kind == "ConfigMap" && doc.APIVersion == "v1":
		return m.readClassic(src, doc)
	case group != metallbGroup:
		m.notes = append(m.notes, fmt.Sprintf("%s (%s) in %s is not MetalLB configuration: skipped.", src, doc.APIVersion, file))
		return nil
	}
	if doc.Metadata.Name == "" {
		return fmt.Errorf("%s: %s: metadata.name: required", file, doc.Kind)
	}
	var spec any
	switch doc.Kind {
	case "IPAddressPool":
		m.pools = append(m.pools, ipAddressPool{meta: doc.Metadata, src: src})
		spec = &m.pools[len(m.pools)-1].Spec
	case "BGPPeer":
		m.peers = append(m.peers, bgpPeer{meta: doc.Metadata, src: src})
		spec = &m.peers[len(m.peers)-1].Spec
	case "BGPAdvertisement":
		m.bgpAdvs = append(m.bgpAdvs, bgpAdvertisement{meta: doc.Metadata, src: src})
		spec = &m.bgpAdvs[len(m.bgpAdvs)-1].Spec
	case "L2Advertisement":
		m.l2Advs = append(m.l2Advs, l2Advertisement{meta: doc.Metadata, src: src})
		spec = &m.l2Advs[len(m.l2Advs)-1].Spec
	case "Community":
		m.communities = append(m.communities, community{meta: doc.Metadata, src: src})
		spec = &m.communities[len(m.communities)-1].Spec
	case "BFDProfile":
		m.bfd = append(m.bfd, bfdProfile{meta: doc.Metadata, src: src})
		spec = &m.bfd[len(m.bfd)-1].Spec
	default:
		m.notes = append(m.notes, fmt.Sprintf("%s (%s) in %s: Herald has no equivalent of this MetalLB kind: not migrated.", src, doc.APIVersion, file))
		return nil
	}
	if len(doc.Spec) == 0 {
		return nil
	}
	if err := decodeStrict(doc.Spec, spec); err != nil {
		return fmt.Errorf("%s: spec: %w", src, err)
	}
	m.addUnknown(src, unknownFields(doc.Spec, reflect.TypeOf(spec), "spec"))
	return nil
}

func (m *model) addUnknown(src source, paths []string) {
	if len(paths) == 0 {
		return
	}
	if m.unknown == nil {
		m.unknown = map[source][]string{}
	}
	m.unknown[src] = append(m.unknown[src], paths...)
}

// key is namespace/name, or name alone.
func key(meta objectMeta) string {
	if meta.Namespace == "" {
		return meta.Name
	}
	return meta.Namespace + "/" + meta.Name
}

// decodeStrict unmarshals JSON into v; unknown fields are found apart
// (unknownFields) since they are notes, not errors.
func decodeStrict(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("%s: cannot be %s, want %s", te.Field, te.Value, te.Type)
		}
		return err
	}
	return nil
}

// unknownFields lists the JSON paths of data that t (a struct, pointer,
// slice or map type with json tags) has no field for, so that a field
// MetalLB gained after this translator was written is reported instead
// of lost. Values whose Go type decodes itself (durations) are leaves.
func unknownFields(data []byte, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.IsExported() && name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		var out []string
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, unknownFields(obj[k], ft, path+"."+k)...)
		}
		return out
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		var out []string
		for i, it := range items {
			out = append(out, unknownFields(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil
		}
		var out []string
		for k, v := range obj {
			out = append(out, unknownFields(v, t.Elem(), path+"."+k)...)
		}
		slices.Sort(out)
		return out
	}
	return nil
}
