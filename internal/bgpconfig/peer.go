package bgpconfig

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// Address families a session may carry, in GoBGP v3's enum names
// (api.Family_AFI_IP.String() and so on), which OpenELB's manifests use.
// Herald announces /32 and /128 unicast routes and nothing else, so only
// unicast IPv4 and IPv6 are accepted.
const (
	AfiIP       = "AFI_IP"
	AfiIP6      = "AFI_IP6"
	SafiUnicast = "SAFI_UNICAST"
)

// maxMultihopTTL is the largest IP TTL.
const maxMultihopTTL = 255

// ValidatePeer checks a BgpPeer on its own. A plaintext conf.authPassword
// is admitted, as OpenELB manifests carry it, with a warning that
// recommends conf.authPasswordSecretRef.
func ValidatePeer(p *v1alpha2.BgpPeer) (warnings []string, errs field.ErrorList) {
	spec := field.NewPath("spec")
	s := &p.Spec

	if s.Conf == nil {
		errs = append(errs, field.Required(spec.Child("conf"),
			"a BgpPeer needs conf.neighborAddress (the router's IP address) and conf.peerAs (the router's AS number)"))
	} else {
		w, e := validatePeerConf(spec.Child("conf"), s.Conf)
		warnings = append(warnings, w...)
		errs = append(errs, e...)
	}
	if s.EbgpMultihop != nil && s.EbgpMultihop.MultihopTtl > maxMultihopTTL {
		errs = append(errs, field.Invalid(spec.Child("ebgpMultihop", "multihopTtl"), s.EbgpMultihop.MultihopTtl,
			"must be at most 255 (the IP TTL is 8 bits); set it to the number of hops to the router"))
	}
	if s.Timers != nil {
		_, e := parseTimers(spec.Child("timers", "config"), s.Timers.Config)
		errs = append(errs, e...)
	}
	if s.Transport != nil && s.Transport.RemotePort > 65535 {
		errs = append(errs, field.Invalid(spec.Child("transport", "remotePort"), s.Transport.RemotePort,
			"must be a TCP port from 1 to 65535, or 0/unset for BGP's port 179"))
	}
	errs = append(errs, validateGracefulRestart(spec.Child("gracefulRestart"), s.GracefulRestart)...)
	for i := range s.AfiSafis {
		errs = append(errs, validateAfiSafi(spec.Child("afiSafis").Index(i), &s.AfiSafis[i])...)
	}
	if s.NodeSelector != nil {
		errs = append(errs, validateNodeSelector(spec.Child("nodeSelector"), s.NodeSelector)...)
	}
	for i := range s.NodeSelectors {
		errs = append(errs, validateNodeSelector(spec.Child("nodeSelectors").Index(i), &s.NodeSelectors[i])...)
	}
	return warnings, errs
}

func validatePeerConf(path *field.Path, c *v1alpha2.PeerConf) (warnings []string, errs field.ErrorList) {
	switch {
	case c.NeighborAddress == "":
		errs = append(errs, field.Required(path.Child("neighborAddress"),
			"the router's IPv4 or IPv6 address, for example 172.22.0.2"))
	default:
		if _, err := parseIP(c.NeighborAddress); err != nil {
			errs = append(errs, field.Invalid(path.Child("neighborAddress"), c.NeighborAddress,
				"not an IP address; write the router's IPv4 or IPv6 address, for example 172.22.0.2 or 2001:db8::2"))
		}
	}
	if c.PeerAs == 0 {
		errs = append(errs, field.Required(path.Child("peerAs"),
			"the router's AS number, 1-4294967295 (4-byte AS numbers are fine)"))
	}

	if c.AuthPassword != "" {
		if c.AuthPasswordSecretRef != nil {
			errs = append(errs, field.Forbidden(path.Child("authPasswordSecretRef"),
				"set either conf.authPassword or conf.authPasswordSecretRef, not both; keep the Secret reference and remove authPassword"))
		} else {
			warnings = append(warnings,
				"spec.conf.authPassword is stored in plain text in the BgpPeer, readable by anyone who can read BgpPeers; put it in a Secret and set spec.conf.authPasswordSecretRef instead")
		}
	}
	if ref := c.AuthPasswordSecretRef; ref != nil {
		errs = append(errs, validateSecretRef(path.Child("authPasswordSecretRef"), ref)...)
	}
	return warnings, errs
}

func validateSecretRef(path *field.Path, ref *v1alpha2.SecretKeyRef) field.ErrorList {
	var errs field.ErrorList
	// An empty namespace means Herald's own; which namespaces are allowed
	// is the webhook's and the speaker's call (they know Herald's).
	if ref.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(ref.Namespace) {
			errs = append(errs, field.Invalid(path.Child("namespace"), ref.Namespace, "not a namespace name: "+msg))
		}
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "the name of the Secret that holds the password"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(ref.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), ref.Name, "not a Secret name: "+msg))
		}
	}
	if ref.Key != "" {
		for _, msg := range validation.IsConfigMapKey(ref.Key) {
			errs = append(errs, field.Invalid(path.Child("key"), ref.Key, "not a Secret key: "+msg))
		}
	}
	return errs
}

func validateAfiSafi(path *field.Path, a *v1alpha2.AfiSafi) field.ErrorList {
	if a.Config == nil || a.Config.Family == nil {
		return field.ErrorList{field.Required(path.Child("config", "family"),
			fmt.Sprintf("each afiSafis entry names its family, for example {afi: %s, safi: %s}", AfiIP, SafiUnicast))}
	}
	var errs field.ErrorList
	f := a.Config.Family
	if f.Afi != AfiIP && f.Afi != AfiIP6 {
		errs = append(errs, unicastOnly(field.NotSupported(path.Child("config", "family", "afi"), f.Afi,
			[]string{AfiIP, AfiIP6})))
	}
	if f.Safi != SafiUnicast {
		errs = append(errs, unicastOnly(field.NotSupported(path.Child("config", "family", "safi"), f.Safi,
			[]string{SafiUnicast})))
	}
	return errs
}

// unicastOnly says why the list of supported families is so short.
func unicastOnly(e *field.Error) *field.Error {
	e.Detail += "; Herald announces IPv4 and IPv6 unicast routes only, so other families are refused for now"
	return e
}

// validateNodeSelector reports each bad part of the selector at its own
// path; LabelSelectorAsSelector then catches anything the field checks let
// through, so the speakers can always build the selector.
func validateNodeSelector(path *field.Path, sel *metav1.LabelSelector) field.ErrorList {
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, path)
	if len(errs) > 0 {
		return errs
	}
	if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
		return field.ErrorList{field.Invalid(path, sel, fmt.Sprintf("not a valid label selector: %v", err))}
	}
	return nil
}
