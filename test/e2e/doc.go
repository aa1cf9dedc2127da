// Package e2e is Herald's end-to-end suite: real processes in network
// namespaces on one machine, against the real kube-apiserver of
// internal/testenv. The rig package builds the network (bridge, router,
// nodes, client) and runs processes in it; the cluster package turns it
// into a Kubernetes testbed (Node objects, kube-proxy, backends, BIRD as
// the ToR, herald-controller and herald-speaker). This package's tests
// use both. They need root, the packages of `make deps` and kube-proxy
// (`make control-plane-e2e`), and skip loudly without root.
//
// TestRig proves the network itself; TestBGP runs issue 4's BGP
// scenarios, each asserting what an operator would check: the router's
// kernel routes, curl from the client, BgpPeer status, /metrics. FRR
// (rig.StartFRR) is a second router beside BIRD where a step needs another
// implementation's view: the Advertisements step checks its attributes and
// sessions at both, BFDWithFRR the speakers' BFD against FRR's bgpd and bfdd.
// TestLayer2 runs issue 5's. TestVIPSupervisors runs VIP mode's keepalived
// side (herald-keepalived and the real keepalived on every node) with
// configs it renders itself; TestVIP runs issue 10's scenarios end to end
// with the speakers rendering, and skips while herald-speaker lacks
// --vip-dir. TestMetalLBMigration runs issue 13's migration: a MetalLB
// configuration through migrate-metallb and kubectl apply, then Services
// written for MetalLB served with the MetalLB opt-ins on.
//
// Safety (DESIGN §4): test traffic only ever goes to addresses inside the
// namespaces a test made; the host's namespace gets no testbed address and
// no route into the testbed; the API server is reached from the nodes
// through unix-socket forwarders, not through a route.
package e2e
