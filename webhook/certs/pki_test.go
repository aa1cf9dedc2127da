package certs

import (
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestServingCertificate(t *testing.T) {
	ca, err := newCA(t0, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"herald-webhook-service.herald-system.svc", "herald-webhook-service.herald-system.svc.cluster.local"}
	ips := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
	kp, err := newServing(ca, names, ips, t0, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	type shape struct {
		CommonName string
		DNSNames   []string
		IPs        []string
		NotBefore  time.Time
		NotAfter   time.Time
		IsCA       bool
		KeyUsage   x509.KeyUsage
		ExtUsage   []x509.ExtKeyUsage
	}
	var gotIPs []string
	for _, ip := range kp.Cert.IPAddresses {
		gotIPs = append(gotIPs, ip.String())
	}
	got := shape{kp.Cert.Subject.CommonName, kp.Cert.DNSNames, gotIPs, kp.Cert.NotBefore, kp.Cert.NotAfter,
		kp.Cert.IsCA, kp.Cert.KeyUsage, kp.Cert.ExtKeyUsage}
	want := shape{
		CommonName: names[0], DNSNames: names, IPs: []string{"127.0.0.1", "::1"},
		NotBefore: t0.Add(-time.Minute), NotAfter: t0.Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("serving certificate (-want +got):\n%s", diff)
	}

	// What an API server does: verify the chain against the caBundle for
	// the name it dials, at a time inside the validity.
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, name := range append(names, "127.0.0.1", "::1") {
		if _, err := kp.Cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: t0.Add(time.Hour)}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := kp.Cert.Verify(x509.VerifyOptions{DNSName: "other.svc", Roots: roots, CurrentTime: t0}); err == nil {
		t.Error("certificate verifies for a name it was not issued for")
	}
	if _, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM); err != nil {
		t.Errorf("PEM pair does not load as a TLS certificate: %v", err)
	}
}

func TestServingNeverOutlivesCA(t *testing.T) {
	ca, err := newCA(t0, 10*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := newServing(ca, []string{"a.svc"}, nil, t0.Add(8*time.Hour), 5*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("serving NotAfter %v, want the CA's %v", kp.Cert.NotAfter, ca.Cert.NotAfter)
	}
}

func TestCA(t *testing.T) {
	ca, err := newCA(t0, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Cert
	if !c.IsCA || !c.MaxPathLenZero || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA constraints: IsCA=%v MaxPathLenZero=%v KeyUsage=%v", c.IsCA, c.MaxPathLenZero, c.KeyUsage)
	}
	// A short validity is backdated by a tenth, not a whole minute.
	if want := t0.Add(-2 * time.Second); !c.NotBefore.Equal(want) {
		t.Errorf("NotBefore %v, want %v", c.NotBefore, want)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("CA has no subject key ID: verifiers could not tell two CAs in one bundle apart")
	}
}

func TestParseKeyPairRejectsMismatch(t *testing.T) {
	a, err := newCA(t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newCA(t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseKeyPair(a.CertPEM, b.KeyPEM); err == nil {
		t.Error("parseKeyPair accepted a certificate with another certificate's key")
	}
	if _, err := parseKeyPair(a.CertPEM, a.KeyPEM); err != nil {
		t.Errorf("parseKeyPair of a matching pair: %v", err)
	}
}
