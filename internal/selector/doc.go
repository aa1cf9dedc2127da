// Package selector validates the metav1.LabelSelectors of Herald's API
// (BgpPeer nodeSelector and nodeSelectors, Eip nodeSelector, the
// peerSelector of an Eip's bgpAdvertisements) one way for every field, so
// that whatever admission lets through, the controller and the speakers
// can build with metav1.LabelSelectorAsSelector.
package selector
