package convert

import (
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/conversion"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
)

// Converters for the webhook builder's WithConverter, one per kind:
// v1alpha2 is the hub, v1alpha1 the only spoke. The manager's scheme must
// know both versions.

// Eip converts Eips.
func Eip() func(*runtime.Scheme) (conversion.Converter, error) {
	return conversion.NewHubSpokeConverter(&v1alpha2.Eip{},
		conversion.NewSpokeConverter(&v1alpha1.Eip{}, EipFromHub, EipToHub))
}

// BgpConf converts BgpConfs.
func BgpConf() func(*runtime.Scheme) (conversion.Converter, error) {
	return conversion.NewHubSpokeConverter(&v1alpha2.BgpConf{},
		conversion.NewSpokeConverter(&v1alpha1.BgpConf{}, BgpConfFromHub, BgpConfToHub))
}

// BgpPeer converts BgpPeers.
func BgpPeer() func(*runtime.Scheme) (conversion.Converter, error) {
	return conversion.NewHubSpokeConverter(&v1alpha2.BgpPeer{},
		conversion.NewSpokeConverter(&v1alpha1.BgpPeer{}, BgpPeerFromHub, BgpPeerToHub))
}
