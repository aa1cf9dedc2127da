// Package metallbmigrate translates a MetalLB configuration into Herald's
// objects, for `herald-controller migrate-metallb`: operators who leave
// MetalLB keep their address plan, peers and BGP attributes without
// rewriting them by hand, and their Services keep working unedited
// because each pool becomes an Eip of the same name (the controller reads
// metallb.io/address-pool as an Eip name when the MetalLB opt-in is on).
//
// Two input formats are read: the classic ConfigMap (metallb-system/config,
// whose data key "config" holds YAML with peers, bgp-communities,
// bfd-profiles and address-pools) and the metallb.io custom resources
// (IPAddressPool, BGPPeer, BGPAdvertisement, L2Advertisement, Community,
// BFDProfile), as multi-document YAML or a kubectl List. The classic
// format is first rewritten into the resources' shape (model), so that
// one translation (Translate) serves both.
//
// The MetalLB types here are this package's own minimal structs, with the
// field names of MetalLB's documented formats; nothing of MetalLB is
// imported. Every input field is either carried over or named in a
// comment above the object it would have gone into, with the reason:
// nothing is dropped silently. Input that MetalLB itself would refuse
// (an address that does not parse, an unknown community alias, a peer
// without an AS) is an error naming the object and the field.
package metallbmigrate
