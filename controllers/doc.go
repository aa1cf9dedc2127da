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
//
// The Eip reconciler also tells operators when kube-proxy defeats layer2
// mode: in IPVS mode without strictARP, kube-proxy puts every Service
// address on each node's kube-ipvs0 and every node answers ARP for it.
// It reads kube-proxy's KubeProxyConfiguration where kubeadm keeps it
// (ConfigMap kube-system/kube-proxy, key config.conf; the only ConfigMap
// it caches, see CacheOptions) and sets the KubeProxyCompatible condition
// on layer2 Eips only: False with the fix in the message, a Warning event
// and one log line when IPVS runs without strictARP; True when it runs
// with it, in another mode, or for an IPv6 pool (NDP is not affected);
// Unknown when there is no such ConfigMap (other distributions, or
// kube-proxy replaced; an Unknown condition says that the check could
// not be made, which an absent one would not) or it does not parse.
// Editing the ConfigMap re-evaluates every layer2 Eip at once.
//
// The BgpPeer reconciler reports two BgpPeers with one neighbour address
// whose different node selectors both match some node: the speakers run
// only the older one there (internal/bgpconfig.NodePeers, called by both),
// and the younger gets the NeighborShadowed condition, naming the older
// and the nodes, and one Warning event per change. It writes nothing but
// that condition, by server-side apply, beside the speakers' own status.
package controllers
