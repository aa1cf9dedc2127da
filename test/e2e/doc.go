// Package e2e is Herald's end-to-end suite: real processes (BIRD as the
// ToR, later the speakers, kube-proxy and keepalived) in network namespaces
// on one machine, against the real kube-apiserver of internal/testenv.
// The rig package builds the testbed; this package's tests use it. They
// need root and the packages of `make deps`, and skip loudly without them.
//
// Safety (DESIGN §4): test traffic only ever goes to addresses inside the
// namespaces a test made; the host's namespace gets no testbed address and
// no route into the testbed; the API server is reached from the nodes
// through unix-socket forwarders, not through a route.
package e2e
