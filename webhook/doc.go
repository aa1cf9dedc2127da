// Package webhook is Herald's admission webhook: it rejects a bad Eip,
// BgpConf or BgpPeer at `kubectl apply`, with a message that names the
// field, the bad value and what would be valid, instead of letting the
// controller or the speakers fail on it later. The checks themselves live
// in internal/eippool and internal/bgpconfig, which the controller and the
// speakers call too, so admission and runtime never disagree. Rejections
// are 422 Invalid statuses, which kubectl prints as
// `The Eip "x" is invalid: spec.address: Invalid value: ...`; advice that
// does not block (a shared routerId, a plaintext BGP password) comes back
// as admission warnings.
//
// Choices made in the kubebuilder markers (config/webhook/manifests.yaml):
//
//   - failurePolicy Fail. These webhooks gate only Herald's own resources,
//     which change rarely and by hand. While the controller is down an edit
//     waits for it; an overlapping or malformed pool slipping through would
//     instead hand one address to two Services, which is worse.
//   - No Service webhook (DESIGN §2): with failurePolicy Fail it would block
//     every Service in the cluster whenever Herald is down. Problems with a
//     Service are reported as events on it.
//   - timeoutSeconds 10: the Eip checks list Eips and Services, which can
//     take a moment in a large cluster; the API server's default of 10 s
//     is written down so that it is a decision, not an accident.
//   - sideEffects None: the webhooks only read, so dry-run requests work.
//   - Only create and update are checked. Deletion is the controller's
//     business (a finalizer keeps a pool until its Services let go).
//
// An update that leaves the checked fields alone (labels, finalizers, the
// controller's own metadata writes, deletion) is always admitted, so that
// objects created before the webhook existed, or under older rules, can
// still be managed and deleted. Eip address edits are allowed whenever
// every allocated address stays in the pool, growth included; OpenELB
// refused every address edit. Likewise a BgpPeer whose neighbour another
// BgpPeer already peers with on the same nodes (bgpconfig.DuplicateNeighbors)
// is refused only by the edit that creates the duplicate, never by one that
// leaves the neighbour and node selector as they were.
//
// The fields MetalLB users bring (issue 13) are checked across objects
// too: an Eip's bgpAdvertisements may name only community aliases that
// BgpConf "default" defines (eippool.CheckBGP), and that BgpConf may not
// drop an alias an Eip still uses; a peer name no BgpPeer has yet, and a
// localPref that reaches an eBGP peer, only bring warnings, so that
// kubectl apply of a directory works in any order. Turning avoidBuggyIPs
// on while a .0 or .255 address is in use is admitted with a warning: the
// controller leaves held addresses with their Services.
//
// A BgpPeer's password Secret must be in Herald's namespace (the
// controller's, Options.Namespace): the speakers may read Secrets there
// only, so a reference elsewhere is refused with the namespace to use.
//
// network.kubesphere.io/v1alpha1, OpenELB's first version, is served too:
// the same server answers the CRDs' conversion webhook at /convert
// (webhook/convert, registered by Setup), and a write through v1alpha1 is
// validated by these same v1alpha2 checks, converted, with the fields
// renamed back to their v1alpha1 names in what the client is told
// (v1alpha1.go).
//
// The validators get their dependencies injected (EipValidator.Reader,
// BgpConfValidator.Reader, BgpPeerValidator.Reader and Namespace); Setup registers them on a
// manager's webhook server. Serving certificates are managed in-process by
// the webhook/certs subpackage.
package webhook
