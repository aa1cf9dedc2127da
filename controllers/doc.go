// Package controllers holds herald-controller's reconcilers: the Service
// reconciler, which gives LoadBalancer Services their addresses, and the
// Eip reconciler, which reports each pool's usage and guards its deletion.
//
// Both share one State: the in-memory allocator, restored from the
// Services' status (the source of truth) the first time either reconciler
// runs, which controller-runtime guarantees is after every watched cache
// has synced. Nothing is allocated before that restore. The State is owned
// by one mutex; API writes happen outside it.
//
// Writes per allocation are kept low on purpose: one patch adds the
// finalizer, one patches status.loadBalancer, one Event records it; Eip
// status is written at a bounded rate, however many Services change.
package controllers
