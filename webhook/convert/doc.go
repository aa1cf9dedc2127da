// Package convert converts Eips, BgpConfs and BgpPeers between
// network.kubesphere.io/v1alpha1 (OpenELB's first version, served for old
// manifests and KubeSphere's console) and v1alpha2 (the storage version).
// The API server calls it through herald-controller's webhook server at
// /convert whenever a client reads or writes a version other than the one
// stored.
//
// Why converters beside the webhook and not kubebuilder's Hub/Convertible
// methods: controller-runtime v0.25 offers both. Hub/Convertible puts
// ConvertTo/ConvertFrom methods on the API types, which DESIGN §2 keeps to
// types and markers only. The registry that v0.25 added
// (conversion.NewHubSpokeConverter with one SpokeConverter per old version,
// handed to the webhook builder's WithConverter) takes plain functions
// instead, registers /convert on the same builder call that registers the
// kind's admission webhooks, gets a context, and lets the functions live
// here, with their tests, importing whatever they need (internal/bgpconfig's
// family names) without the API packages importing anything.
//
// Lossless round trips follow the Kubernetes API conventions: a field one
// version cannot express is kept in an annotation of the other.
//
//   - AnnotationV1alpha2Fields, on an object read through v1alpha1, holds
//     the v1alpha2 spec and status as JSON whenever the v1alpha1 fields
//     alone would not convert back to them: an Eip's interface, priority or
//     namespaces, a BgpPeer's timers or node selector, any status beyond
//     an Eip's usage figures. It is absent when nothing would be lost.
//   - AnnotationV1alpha1Fields, on the stored v1alpha2 object, holds the
//     v1alpha1 fields that v1alpha2 has no place for: a BgpPeer's
//     usingPortForward.
//
// Each annotation is stripped again when converting the other way, so
// neither version's clients see the other's bookkeeping on a round trip.
// Converting v1alpha1 back to v1alpha2 starts from the annotation's
// v1alpha2 fields and applies every v1alpha1 field that differs from what
// those fields read as in v1alpha1: an edit made through v1alpha1 wins, and
// what v1alpha1 cannot show (a remote port above 65535, the per-family
// add-paths of a BgpPeer) is kept exactly as long as its v1alpha1 view is
// left alone. A client that drops the annotation (kubectl replace from a
// file written for v1alpha1) drops the v1alpha2-only fields with it, as
// with any replace.
//
// The annotation carries status too, so that a status write through
// v1alpha1 keeps v1alpha2's status fields; the main resource's status is
// never taken from a v1alpha1 update, since both versions have the status
// subresource. A v1alpha1 read of an Eip with thousands of addresses in use
// carries its status.used map in the annotation; writing such an object
// back through v1alpha1 can exceed the API server's 256 KiB limit on
// annotations, which it then refuses rather than losing anything.
//
// For objects OpenELB stored at v1alpha1 (a cluster taken over from
// OpenELB): the API server converts each one through this package when it
// is read or written at v1alpha2, so they read back with their renamed
// fields in place. webhook/webhooktest runs the webhook server against a
// test control plane for checking that, and its
// TestObjectsStoredAtV1alpha1ReadBack replays OpenELB's CRD history;
// EipToHub, BgpConfToHub and BgpPeerToHub say what each field becomes.
package convert
