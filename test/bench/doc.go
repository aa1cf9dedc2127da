// Package bench measures Herald's controller the way DESIGN.md §4 measured
// MetalLB and OpenELB: the real herald-controller process against a real
// kube-apiserver, N annotated LoadBalancer Services created as fast as the
// API server takes them, and the time until every one has an address, the
// controller's writes per allocation counted server-side, and the
// controller's peak resident memory.
//
// Run it with `make bench`. Each case runs several times on a fresh control
// plane and reports the median; the spread goes to the benchmark log.
// HERALD_BENCH_RUNS=n runs every case n times instead, and
// `make bench BENCH_FLAGS='-bench Allocate/services=1000$'` picks one case.
//
// What bounds the numbers on a two-core machine is the API server, not the
// controller: it, etcd, the controller and the benchmark share the cores,
// so every write the controller saves is time the API server spends on
// creates. At 10,000 Services a cost of kube-apiserver 1.37 itself
// dominates: its IPAddress-based ClusterIP allocator lists and parses every
// IPAddress object on each Service create to update two gauges
// (ipallocator.Allocator.Used, called from createIPAddress), so creates
// slow down linearly with the number of Services and the whole run is
// quadratic. The controller is not involved; peers measured on the same
// API server pay the same.
package bench
