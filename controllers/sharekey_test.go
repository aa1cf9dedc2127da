package controllers

import (
	"testing"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestSharingKeys: Services with the same sharing key share one address in
// any namespace without asking for it; a request for an address held under
// another key, or with clashing ports, is refused with a Warning event
// naming the holder; OpenELB's keyless same-IP rule is unchanged.
func TestSharingKeys(t *testing.T) {
	startController(t, Options{})
	withBgp(t)
	createEip(t, "share", "198.18.2.0/29", asDefault)
	nsA, nsB := namespace(t, nil), namespace(t, nil)
	shareKey := func(k string) svcOpt { return annotated(v1alpha2.AnnotationAllowSharedIP, k) }

	// Same key, any namespace, no address asked for: one address.
	createService(t, nsA, "http", shareKey("web"), withPort(80))
	waitIngress(t, nsA, "http", "198.18.2.0")
	createService(t, nsB, "https", shareKey("web"), withPort(443))
	waitIngress(t, nsB, "https", "198.18.2.0")

	// Same key, overlapping ports: asked for, refused, naming the holder.
	createService(t, nsB, "clash", shareKey("web"), withPort(80), annotated(v1alpha2.AnnotationRequestedIP, "198.18.2.0"))
	waitEvent(t, nsB, "clash", ReasonAllocationFailed, "held by "+nsA+"/http, which also uses 80/TCP")

	// Another key: refused, naming the holder and both keys.
	createService(t, nsA, "db", shareKey("db"), withPort(5432), annotated(v1alpha2.AnnotationRequestedIP, "198.18.2.0"))
	waitEvent(t, nsA, "db", ReasonAllocationFailed, `which has sharing key "web", and this Service has "db"`)

	// OpenELB's rule: no keys, same namespace, same requested address.
	createService(t, nsA, "o1", withPort(80), annotated(v1alpha2.AnnotationRequestedIP, "198.18.2.5"))
	waitIngress(t, nsA, "o1", "198.18.2.5")
	createService(t, nsA, "o2", withPort(81), annotated(v1alpha2.AnnotationRequestedIP, "198.18.2.5"))
	waitIngress(t, nsA, "o2", "198.18.2.5")
	createService(t, nsB, "o3", withPort(82), annotated(v1alpha2.AnnotationRequestedIP, "198.18.2.5"))
	waitEvent(t, nsB, "o3", ReasonAllocationFailed, "in another namespace")
	createService(t, nsA, "o4", withPort(83), shareKey("web"), annotated(v1alpha2.AnnotationRequestedIP, "198.18.2.5"))
	waitEvent(t, nsA, "o4", ReasonAllocationFailed, "which has no sharing key")
}
