package metallbmigrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/iprange"
)

// Options tune a translation.
type Options struct {
	// Layer2Interface is the spec.interface of layer2 Eips whose MetalLB
	// configuration names no single interface (MetalLB answers on all of
	// them; a Herald layer2 Eip on one). Empty leaves it for the operator.
	Layer2Interface string
}

// Input is one file of MetalLB configuration.
type Input struct {
	// Name identifies the input in errors (a file name, "-" for stdin).
	Name string
	R    io.Reader
}

// Object is one Herald object and the notes printed above it: what of its
// MetalLB origin was not carried over, and why.
type Object struct {
	Notes []string
	Obj   client.Object
}

// Result is a translated configuration.
type Result struct {
	// Notes concern the input as a whole (skipped documents).
	Notes []string
	// Objects are BgpConf "default", the BgpPeers and the Eips, in that
	// order (the order kubectl apply wants: Eips' advertisements name
	// peers and aliases).
	Objects []Object
}

// Convert reads MetalLB configuration from inputs and translates it.
func Convert(opts Options, inputs ...Input) (*Result, error) {
	m := &model{}
	for _, in := range inputs {
		if err := m.Read(in.Name, in.R); err != nil {
			return nil, err
		}
	}
	return translate(m, opts)
}

func translate(m *model, opts Options) (*Result, error) {
	res := &Result{Notes: m.notes}
	if len(m.pools) == 0 && len(m.peers) == 0 {
		return nil, fmt.Errorf("no MetalLB address pool or peer in the input: give the classic ConfigMap (metallb-system/config) or the metallb.io resources (kubectl get -n metallb-system ipaddresspools,bgppeers,bgpadvertisements,l2advertisements,communities,bfdprofiles -o yaml)")
	}
	for _, objs := range [][]source{sources(m.communities), sources(m.bfd)} {
		for _, src := range objs {
			if u := m.unknown[src]; len(u) > 0 {
				res.Notes = append(res.Notes, fmt.Sprintf("%s: unknown fields, not carried over: %s.", src, strings.Join(u, ", ")))
			}
		}
	}
	comms, err := buildCommunities(m.communities)
	if err != nil {
		return nil, err
	}
	bfd := map[string]bfdProfile{}
	for _, b := range m.bfd {
		bfd[b.meta.Name] = b
	}

	// Pools first: the peers' address families depend on them.
	b := &eipBuilder{opts: opts, comms: comms, peers: map[string]bool{}, used: map[string]bool{}, defaults: map[bool]string{}}
	for _, p := range m.peers {
		b.peers[p.meta.Name] = true
	}
	for _, p := range m.pools {
		if b.used[p.meta.Name] {
			return nil, fmt.Errorf("%s: a second pool named %s", p.src, p.meta.Name)
		}
		b.used[p.meta.Name] = true
	}
	families := map[bool]bool{}
	var eips []Object
	for _, p := range m.pools {
		in := poolInput{pool: p, unknown: m.unknown[p.src]}
		for _, a := range m.bgpAdvs {
			ok, err := selects(a.Spec.IPAddressPools, a.Spec.IPAddressPoolSelectors, p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", a.src, err)
			}
			if ok {
				in.bgp = append(in.bgp, a)
				in.unknown = append(in.unknown, prefixed(a.src, m.unknown[a.src])...)
			}
		}
		for _, a := range m.l2Advs {
			ok, err := selects(a.Spec.IPAddressPools, a.Spec.IPAddressPoolSelectors, p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", a.src, err)
			}
			if ok {
				in.l2 = append(in.l2, a)
				in.unknown = append(in.unknown, prefixed(a.src, m.unknown[a.src])...)
			}
		}
		objs, err := b.eips(in)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			eips = append(eips, *o)
			families[isV4(o)] = true
		}
	}

	conf, err := bgpConf(m.peers, comms)
	if err != nil {
		return nil, err
	}
	if conf != nil {
		res.Objects = append(res.Objects, *conf)
		as := conf.Obj.(*v1alpha2.BgpConf).Spec.As
		commonID := commonRouterID(m.peers)
		names := map[string]bool{}
		for _, p := range m.peers {
			if names[p.meta.Name] {
				return nil, fmt.Errorf("%s: a second peer named %s", p.src, p.meta.Name)
			}
			names[p.meta.Name] = true
			obj, err := bgpPeerObject(p, as, commonID, bfd, families, m.unknown[p.src])
			if err != nil {
				return nil, err
			}
			res.Objects = append(res.Objects, *obj)
		}
	}
	res.Objects = append(res.Objects, eips...)
	return res, nil
}

func isV4(o *Object) bool {
	r, err := iprange.Parse(o.Obj.(*v1alpha2.Eip).Spec.Address)
	return err == nil && r.Is4()
}

func sources[T interface{ source() source }](objs []T) []source {
	out := make([]source, len(objs))
	for i, o := range objs {
		out[i] = o.source()
	}
	return out
}

func (c community) source() source  { return c.src }
func (b bfdProfile) source() source { return b.src }

// prefixed names the object of unknown fields found beside a pool.
func prefixed(src source, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = fmt.Sprintf("%s (%s)", p, src)
	}
	return out
}

// YAML prints the result as multi-document YAML, each object under its
// notes as # comments, ready for kubectl apply after review.
func (r *Result) YAML() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Herald objects translated from a MetalLB configuration by herald-controller migrate-metallb.\n")
	buf.WriteString("# Review every comment before applying: each says what was not carried over, and why.\n")
	writeNotes(&buf, r.Notes)
	for _, o := range r.Objects {
		buf.WriteString("---\n")
		writeNotes(&buf, o.Notes)
		data, err := render(o.Obj)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", o.Obj.GetObjectKind().GroupVersionKind().Kind, o.Obj.GetName(), err)
		}
		buf.Write(data)
	}
	return buf.Bytes(), nil
}

// render prints an object without the empty status and creation
// timestamp that its Go type always carries.
func render(obj client.Object) ([]byte, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return yaml.Marshal(m)
}

// writeNotes writes notes as # comments wrapped at about 100 columns.
func writeNotes(buf *bytes.Buffer, notes []string) {
	for _, n := range notes {
		line := "#"
		for _, word := range strings.Fields(n) {
			if len(line)+1+len(word) > 100 && line != "#" && line != "#  " {
				buf.WriteString(line + "\n")
				line = "#  "
			}
			if line == "#  " {
				line += word
			} else {
				line += " " + word
			}
		}
		buf.WriteString(line + "\n")
	}
}
