// Package speaker is herald-speaker's core: on each node it turns what the
// cluster says (Services with allocated addresses, their Eips, their
// endpoints) into what this node must announce, per mode, and hands each
// mode its part. It never allocates.
//
// The decision is one pure function, Compute, over a snapshot of the
// cluster; the reconciler only gathers the snapshot from its caches and
// applies the result. When the API server is unreachable the caches stop
// changing, so the node keeps announcing what it announced.
package speaker
