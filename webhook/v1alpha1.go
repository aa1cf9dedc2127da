package webhook

import (
	"context"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/webhook/convert"
)

// Writes through v1alpha1 reach the v1alpha2 validators: the webhook
// configurations name v1alpha2 with matchPolicy Equivalent (the default),
// so the API server converts a v1alpha1 object through /convert before
// asking, and says in the request's RequestKind which version the client
// used. The checks run on v1alpha2 and name v1alpha2 fields; for a
// v1alpha1 client the fields it knows under other names are renamed back
// here, in the field paths of the 422 and in the words of the messages and
// warnings, so that `kubectl apply` of a v1alpha1 manifest points at a line
// of that manifest.
//
// The other way, v1alpha1 webhooks of their own, would need v1alpha1
// versions of every check or a second conversion in the webhook, and with
// matchPolicy Equivalent both webhooks would see every write. Fields with
// no v1alpha1 name (the ones in the conversion annotation) keep their
// v1alpha2 paths, which is where the annotation's JSON has them, and the
// message says so: a v1alpha1 layer2 Eip, for one, needs spec.interface,
// which only v1alpha2 (or the annotation) can give it.

// rename is one v1alpha2 field path and its v1alpha1 spelling. A path
// matches when it is from or, unless exact, lies under it.
type rename struct {
	from, to string
	exact    bool
}

// v1alpha1Renames are, per kind, the paths the validators report that
// v1alpha1 spells differently, the spellings to change in messages, and
// the v1alpha1 spec fields (after renaming; anything else under spec has
// no v1alpha1 home). Eip's fields have the same names in both versions.
var v1alpha1Renames = map[string]struct {
	paths  []rename
	words  *strings.Replacer
	fields []string
}{
	"Eip": {
		words:  strings.NewReplacer(),
		fields: []string{"spec.address", "spec.protocol", "spec.disable", "spec.usingKnownIPs"},
	},
	"BgpConf": {
		paths:  []rename{{from: "spec.listenPort", to: "spec.port"}, {from: "spec.routerId", to: "spec.routerID"}},
		words:  strings.NewReplacer("spec.listenPort", "spec.port", "routerId", "routerID"),
		fields: []string{"spec.as", "spec.routerID", "spec.port"},
	},
	"BgpPeer": {
		paths: []rename{
			{from: "spec.conf.peerAs", to: "spec.config.peerAs"},
			{from: "spec.conf.neighborAddress", to: "spec.config.neighborAddress"},
			{from: "spec.conf", to: "spec.config", exact: true},
		},
		words: strings.NewReplacer("conf.peerAs", "config.peerAs", "conf.neighborAddress", "config.neighborAddress"),
		fields: []string{"spec.config", "spec.config.peerAs", "spec.config.neighborAddress",
			"spec.transport.passiveMode", "spec.transport.remotePort", "spec.addPaths.sendMax", "spec.usingPortForward"},
	},
}

// noV1alpha1Home is added to a refusal of a field v1alpha1 does not have.
const noV1alpha1Home = " (network.kubesphere.io/v1alpha1 has no such field: write this object through v1alpha2," +
	" or set the field in the annotation " + convert.AnnotationV1alpha2Fields + ")"

// viaV1alpha1 reports whether the admission request in ctx is a write the
// client made through v1alpha1.
func viaV1alpha1(ctx context.Context) bool {
	req, err := admission.RequestFromContext(ctx)
	return err == nil && req.RequestKind != nil && req.RequestKind.Version == v1alpha1.GroupVersion.Version
}

// forClient renames the v1alpha2 fields in errs and warnings to their
// v1alpha1 names when the client wrote kind through v1alpha1.
func forClient(ctx context.Context, kind string, warnings admission.Warnings, errs field.ErrorList) (admission.Warnings, field.ErrorList) {
	r, ok := v1alpha1Renames[kind]
	if !ok || !viaV1alpha1(ctx) {
		return warnings, errs
	}
	out := make(field.ErrorList, 0, len(errs))
	for _, e := range errs {
		c := *e
		c.Field = renamePath(r.paths, c.Field)
		c.Detail = r.words.Replace(c.Detail)
		if strings.HasPrefix(c.Field, "spec.") && !slices.Contains(r.fields, c.Field) {
			c.Detail += noV1alpha1Home
		}
		out = append(out, &c)
	}
	var ws admission.Warnings
	for _, w := range warnings {
		ws = append(ws, r.words.Replace(w))
	}
	return ws, out
}

// renamePath applies the first rename that matches path.
func renamePath(renames []rename, path string) string {
	for _, r := range renames {
		if path == r.from {
			return r.to
		}
		if !r.exact && (strings.HasPrefix(path, r.from+".") || strings.HasPrefix(path, r.from+"[")) {
			return r.to + path[len(r.from):]
		}
	}
	return path
}
