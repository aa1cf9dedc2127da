// Package speaker is herald-speaker's core: on each node it turns what the
// cluster says (Services with allocated addresses, their Eips, their
// endpoints, BgpConf's Service ranges) into what this node must announce,
// per mode, and hands each mode its part. It never allocates.
//
// The decision is one pure function, Compute, over a snapshot of the
// cluster; the reconciler only gathers the snapshot from its caches and
// applies the result. When the API server is unreachable the caches stop
// changing, so the node keeps announcing what it announced.
//
// Besides Herald's load-balancer addresses, a node running BGP advertises
// the Service ranges BgpConf lists in serviceClusterIPs and
// serviceExternalIPs, with Calico's semantics: every node advertises each
// range, so routers spread traffic over the nodes with ECMP, and the
// cluster IPs and external IPs inside them of externalTrafficPolicy Local
// Services of any type are also advertised as host routes, only from the
// nodes with a ready endpoint. Metrics: herald_speaker_announced_addresses
// {mode} counts load-balancer addresses, herald_speaker_announced_prefixes
// {kind} the routes the ranges bring (kind serviceClusterIPs,
// serviceExternalIPs, clusterIP, externalIP).
package speaker
