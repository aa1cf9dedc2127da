// Package bgpconfig checks BgpConf and BgpPeer objects and turns the parts
// that need interpretation (int-or-string timers) into plain numbers.
//
// OpenELB validated neither kind: a peer with a typo in its address or a
// hold time of 1 second was accepted and then failed, silently, inside
// every speaker. Herald's admission webhook and its speakers call the same
// functions here, so a configuration the webhook admits is one the speakers
// can run, and a speaker that meets an object admitted before the webhook
// existed reports the same words the webhook would have. The same holds
// across objects: which of two BgpPeers with one neighbour address a node
// peers with (NodePeers) is decided here for the speakers and for the
// controller that reports it, and the overlaps the webhook refuses
// (DuplicateNeighbors) are the ones that rule would always settle. Which
// nodes a BgpPeer selects at all is SelectsNode's: its nodeSelector
// (OpenELB's) and the entries of nodeSelectors (Herald's, after MetalLB's
// node-selectors) OR-ed, every node when neither is set.
//
// Everything here is pure: no clients, no I/O. Problems come back as
// field.ErrorLists whose messages name the field, the bad value and what
// would be valid; advice that does not block admission comes back as
// warnings.
package bgpconfig
