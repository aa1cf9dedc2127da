// Package rig builds Herald's end-to-end testbed: network namespaces on
// one machine that stand for a ToR router, N Kubernetes nodes and a client,
// joined by a bridge (testbed-facts §2), with real programs in them — BIRD
// as the ToR today, the speakers, kube-proxy and keepalived later.
//
//	Up / Setup       namespaces, veths, deterministic MACs, IPv4 + IPv6 plan, sysctls
//	Start / Exec     one OS process per simulated node (`ip netns exec`), logs in StateDir
//	StartToR         BIRD with fast timers, dynamic neighbours, ECMP into the kernel
//	BirdRoutes       the router's FIB for a prefix; WatchRoutes for ms timings
//	ForwardHost      the host's API server on 127.0.0.1 inside the nodes, via a unix socket
//	LinkDown/Up, CarrierDown/Up, DropTraffic   fault injection
//	Down / Cleanup / CleanupStale              teardown by PID, then the namespaces
//
// Safety is part of the contract, not a convention: every address lives in
// a namespace the rig made; the host's namespace gets no link, address or
// route (Up asserts that it is unchanged, and that neither the router nor
// the client can route to an address outside the testbed); the only path
// between the host and the testbed is a unix socket. Processes are ended by
// PID, never by name: a rig's namespaces are named <NamePrefix><pid>-<n>-,
// so the leftovers of a crashed test process are told apart from the rigs
// of one still running.
//
// The test process never enters a namespace for long-lived work (gobgp and
// client-go dial from arbitrary threads, which would land in the wrong
// one, testbed-facts §8.1): netlink handles and the route watch open their
// sockets inside a namespace once, on a locked thread, and use them from
// anywhere; everything else runs as a separate process under
// `ip netns exec`.
package rig
