package metallbmigrate

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The types below have the shape of MetalLB's metallb.io resources
// (v1beta1, and v1beta2 for BGPPeer), written from MetalLB's public API
// reference. The classic ConfigMap is converted into them (classic.go).

// objectMeta is the part of metadata a translation reads.
type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// source names an input object in notes and errors:
// `IPAddressPool "metallb-system/prod"` or `ConfigMap "metallb-system/config": address-pools[1]`.
type source string

type ipAddressPool struct {
	meta objectMeta
	src  source
	// classic is true for objects read from the classic ConfigMap; errors
	// then name its keys (peer-asn), else the resource's (spec.peerASN).
	classic bool
	Spec    ipAddressPoolSpec
}

type ipAddressPoolSpec struct {
	Addresses         []string           `json:"addresses"`
	AutoAssign        *bool              `json:"autoAssign,omitempty"`
	AvoidBuggyIPs     bool               `json:"avoidBuggyIPs,omitempty"`
	ServiceAllocation *serviceAllocation `json:"serviceAllocation,omitempty"`
}

type serviceAllocation struct {
	Priority           int                    `json:"priority,omitempty"`
	Namespaces         []string               `json:"namespaces,omitempty"`
	NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`
	ServiceSelectors   []metav1.LabelSelector `json:"serviceSelectors,omitempty"`
}

type bgpPeer struct {
	meta    objectMeta
	src     source
	classic bool
	Spec    bgpPeerSpec
}

type bgpPeerSpec struct {
	MyASN                 uint32                 `json:"myASN"`
	PeerASN               uint32                 `json:"peerASN,omitempty"`
	DynamicASN            string                 `json:"dynamicASN,omitempty"`
	PeerAddress           string                 `json:"peerAddress"`
	SourceAddress         string                 `json:"sourceAddress,omitempty"`
	PeerPort              uint32                 `json:"peerPort,omitempty"`
	HoldTime              *duration              `json:"holdTime,omitempty"`
	KeepaliveTime         *duration              `json:"keepaliveTime,omitempty"`
	ConnectTime           *duration              `json:"connectTime,omitempty"`
	RouterID              string                 `json:"routerID,omitempty"`
	NodeSelectors         []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
	Password              string                 `json:"password,omitempty"`
	PasswordSecret        *secretReference       `json:"passwordSecret,omitempty"`
	BFDProfile            string                 `json:"bfdProfile,omitempty"`
	EBGPMultiHop          bool                   `json:"ebgpMultiHop,omitempty"`
	EnableGracefulRestart bool                   `json:"enableGracefulRestart,omitempty"`
	VRFName               string                 `json:"vrf,omitempty"`
	DisableMP             bool                   `json:"disableMP,omitempty"`
	Interface             string                 `json:"interface,omitempty"`
}

type secretReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type bgpAdvertisement struct {
	meta    objectMeta
	src     source
	classic bool
	Spec    bgpAdvertisementSpec
}

type bgpAdvertisementSpec struct {
	AggregationLength      *int32                 `json:"aggregationLength,omitempty"`
	AggregationLengthV6    *int32                 `json:"aggregationLengthV6,omitempty"`
	LocalPref              uint32                 `json:"localPref,omitempty"`
	Communities            []string               `json:"communities,omitempty"`
	IPAddressPools         []string               `json:"ipAddressPools,omitempty"`
	IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`
	NodeSelectors          []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
	Peers                  []string               `json:"peers,omitempty"`
}

type l2Advertisement struct {
	meta    objectMeta
	src     source
	classic bool
	Spec    l2AdvertisementSpec
}

type l2AdvertisementSpec struct {
	IPAddressPools         []string               `json:"ipAddressPools,omitempty"`
	IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`
	NodeSelectors          []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
	Interfaces             []string               `json:"interfaces,omitempty"`
}

type community struct {
	meta    objectMeta
	src     source
	classic bool
	Spec    communitySpec
}

type communitySpec struct {
	Communities []communityAlias `json:"communities,omitempty"`
}

type communityAlias struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type bfdProfile struct {
	meta    objectMeta
	src     source
	classic bool
	Spec    bfdProfileSpec
}

// bfdProfileSpec's intervals are milliseconds, as in MetalLB.
type bfdProfileSpec struct {
	ReceiveInterval  *uint32 `json:"receiveInterval,omitempty"`
	TransmitInterval *uint32 `json:"transmitInterval,omitempty"`
	DetectMultiplier *uint32 `json:"detectMultiplier,omitempty"`
	EchoInterval     *uint32 `json:"echoInterval,omitempty"`
	EchoMode         bool    `json:"echoMode,omitempty"`
	PassiveMode      bool    `json:"passiveMode,omitempty"`
	MinimumTTL       *uint32 `json:"minimumTtl,omitempty"`
}

// model is a whole MetalLB configuration in the resources' shape, in
// input order. notes are remarks on input that belongs to no object
// (skipped documents, fields of the classic format with no resource
// equivalent).
type model struct {
	pools       []ipAddressPool
	peers       []bgpPeer
	bgpAdvs     []bgpAdvertisement
	l2Advs      []l2Advertisement
	communities []community
	bfd         []bfdProfile
	notes       []string
	// classic is true when the model came from the classic ConfigMap,
	// whose layer2 pools cannot name an interface.
	classic bool
	// unknown are the notes on unknown input fields, per object source.
	unknown map[source][]string
}

// duration is a MetalLB duration: a Go duration string ("90s", "1m30s")
// or, as the oldest classic configurations wrote hold-time, a number of
// seconds.
type duration struct{ time.Duration }

func (d *duration) UnmarshalJSON(b []byte) error {
	text := strings.TrimSpace(string(b))
	if s, err := strconv.Unquote(text); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			if n, nerr := strconv.ParseUint(s, 10, 32); nerr == nil {
				d.Duration = time.Duration(n) * time.Second
				return nil
			}
			return fmt.Errorf("%q is not a duration such as 90s or 1m30s", s)
		}
		d.Duration = v
		return nil
	}
	var n uint32
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("%s is not a duration such as 90s or 1m30s", text)
	}
	d.Duration = time.Duration(n) * time.Second
	return nil
}

// MarshalJSON keeps classic-to-model round trips (tests) readable.
func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }
