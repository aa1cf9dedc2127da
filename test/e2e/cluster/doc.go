// Package cluster is the end-to-end testbed of DESIGN §4 as a library, so
// that the e2e suite, the benchmarks and `make demo` share it: a rig (see
// test/e2e/rig) with a real kube-apiserver and etcd forwarded into every
// node namespace, Node objects written as a kubelet would, the real
// kube-proxy in iptables mode and an HTTP backend on every node, BIRD as
// the ToR, herald-controller on node1 and herald-speaker on every node;
// with Options.VIP, also herald-keepalived (the VIP supervisor, running the
// system's keepalived) on every node, sharing a directory with the
// node's speaker as the two DaemonSets share a host directory.
//
// There is no kubelet and no kube-controller-manager: backends are
// processes with the node's address (pods with host networking), and
// PublishEndpoints writes their EndpointSlices.
package cluster
