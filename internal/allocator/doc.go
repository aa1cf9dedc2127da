// Package allocator decides which address each LoadBalancer Service gets.
// It is pure and in-memory: the controller restores it from the Services'
// status (the source of truth) before it allocates anything, feeds it the
// validated pools from internal/eippool, and persists what it decides.
//
// Guarantees, tested by the property test in this package:
//   - an address is never held by two Services, except Services that share
//     it by the sharing rules: the same sharing key (any namespace; a keyed
//     Service asking for no address joins one its key holds), or no key at
//     all and OpenELB's rule (same namespace, requested explicitly); in both
//     cases disjoint port/protocol sets, and all externalTrafficPolicy
//     Cluster or all with the same selector;
//   - a Service keeps its addresses until it is released, whatever happens to
//     pools and to other Services; only a change of what the Service itself
//     asks for (another Eip, another requested address) moves it;
//   - pool choice is OpenELB v0.6's: a named Eip wins; a requested address
//     picks the Eip that holds it; otherwise the Eips bound to the namespace,
//     not-full first, then lowest priority; only when none is bound, the
//     default Eip. Disabled or deleting Eips hand out nothing new.
//
// An Allocator is not safe for concurrent use; its owner serialises calls.
package allocator
