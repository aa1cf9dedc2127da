// Package kcluster is the cluster testbed's harness: Kubernetes itself
// runs pods on nodes made of the e2e rig's network namespaces (issue 12).
// Each node is one namespace of test/e2e/rig with its own containerd 2.x
// and kubelet; the control plane is the real kube-apiserver and etcd of
// internal/testenv on the host's loopback, reached from the nodes through
// the rig's unix-socket forwarders.
//
// # One mount namespace per node
//
// A node's containerd and kubelet must see each other's mounts: the
// kubelet mounts Secret, ConfigMap and projected-token volumes (tmpfs) under
// its root dir, and runc, started by containerd, bind-mounts them into the
// containers. `ip netns exec` gives every process it starts a mount
// namespace of its own, and it also remounts /sys, which hides the cgroup
// hierarchies under /sys/fs/cgroup that the kubelet and runc need on this
// cgroup v1 host. So a node is started as ONE process,
//
//	nsenter --net=/run/netns/<node> unshare --mount --propagation private sh node.sh
//
// which joins the node's network namespace without touching the mount
// table, then makes a private mount namespace; node.sh (rendered per node
// into the rig's state dir) starts containerd and then the kubelet as its
// children, so both share that one mount namespace and every mount they
// make. Private propagation means nothing they mount reaches the host, and
// when the last process of the namespace is gone the kernel drops all its
// mounts: teardown has no mount to undo. node.sh also mounts tmpfs over
// /run (the runc shim's sockets go to /run/containerd whatever
// containerd's state dir is; hostPath volumes such as Herald's
// /run/herald/keepalived must be the node's own) and /var/lib (the
// kubelet's device-plugins dir and the CNI result cache are fixed paths),
// and a state-dir directory over /var/log (the kubelet's
// /var/log/containers is fixed), so that none of them reaches the host.
//
// # The control plane
//
// kube-apiserver and etcd are internal/testenv's, on the host's loopback,
// with the ServiceAccount admission plugin on and a serving certificate
// that also names the `kubernetes` Service's ClusterIP and the router's
// LAN address, which the API server advertises: the `kubernetes`
// Service's endpoint is the router's address, where a forwarder relays to
// the host. So pods reach the API server as in any cluster (ClusterIP,
// kube-proxy's DNAT, the endpoint), kube-proxy itself reaches the endpoint
// directly, and the kubelets use the admin kubeconfig through the rig's
// loopback forwarders. kube-controller-manager and kube-scheduler run in
// the router's namespace (a node's loss leaves them up) with short
// node-monitor timings (NodeMonitorGracePeriod); the kubelets renew their
// leases every 2 s.
//
// The other way, the API server's egress selector sends its "cluster"
// traffic (webhook and conversion calls, which with aggregator routing go
// to the endpoints' pod IPs; logs, exec and port-forward to the kubelets'
// InternalIPs) as HTTP CONNECT requests over a unix socket to an nsforward
// proxy in the router's namespace, which has a route to every node's pod
// range: the host still gets no testbed address or route. The audit log
// (AuditLog) records every request of Herald's service accounts.
//
// kube-proxy runs as a DaemonSet (DeployKubeProxy) of the testbed's own
// herald-kube-proxy image, the Services' backends as Deployments of
// herald-httpname (`make testbed-images`).
//
// # What is the host's and is restored
//
// The kubelet writes six kernel sysctls that are not per network namespace
// (vm.overcommit_memory, vm.panic_on_oom, kernel.panic, kernel.panic_on_oops,
// kernel.keys.root_maxkeys, kernel.keys.root_maxbytes); the harness saves
// them before the first kubelet starts and writes them back after the
// last one stopped. Each node gets its own cgroup root (a directory in
// every hierarchy, made and removed by the harness); teardown kills every
// process in it by PID before removing it.
package kcluster
