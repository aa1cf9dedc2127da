package certs

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the Secret that holds the certificates.
const (
	keyCA         = "ca.crt"
	keyCAKey      = "ca.key"
	keyNextCA     = "ca-next.crt"
	keyNextCAKey  = "ca-next.key"
	keyRetiredCAs = "ca-retired.crt"
	keyCert       = corev1.TLSCertKey
	keyKey        = corev1.TLSPrivateKeyKey
)

// State is everything the Secret holds.
type State struct {
	// CA signs the serving certificate.
	CA *KeyPair
	// NextCA is a CA staged for rotation: it is already in every caBundle
	// but signs nothing until the API servers have had time to learn it.
	NextCA *KeyPair
	// Retired are earlier CAs, trusted until they expire so that a replica
	// still serving a certificate they signed keeps working.
	Retired []*x509.Certificate
	// Serving is the webhook server's certificate, signed by CA.
	Serving *KeyPair
}

// policy is what Options says about certificates, in the form plan needs.
type policy struct {
	caValidity, certValidity time.Duration
	refresh                  float64
	propagation              time.Duration
	dnsNames                 []string
	ips                      []netip.Addr
}

// stateFromSecret reads a Secret's data. A part that does not parse is
// left out and reported, so that plan replaces it.
func stateFromSecret(data map[string][]byte) (State, []error) {
	var s State
	var problems []error
	pair := func(certKey, keyKey string) *KeyPair {
		if len(data[certKey]) == 0 && len(data[keyKey]) == 0 {
			return nil
		}
		kp, err := parseKeyPair(data[certKey], data[keyKey])
		if err != nil {
			problems = append(problems, fmt.Errorf("%s/%s: %w", certKey, keyKey, err))
		}
		return kp
	}
	s.CA = pair(keyCA, keyCAKey)
	s.NextCA = pair(keyNextCA, keyNextCAKey)
	s.Serving = pair(keyCert, keyKey)
	retired, err := parseCerts(data[keyRetiredCAs])
	if err != nil {
		problems = append(problems, fmt.Errorf("%s: %w", keyRetiredCAs, err))
	}
	s.Retired = retired
	return s, problems
}

// data is the Secret's data for s.
func (s State) data() map[string][]byte {
	d := map[string][]byte{}
	put := func(certKey, keyKey string, kp *KeyPair) {
		if kp != nil {
			d[certKey], d[keyKey] = kp.CertPEM, kp.KeyPEM
		}
	}
	put(keyCA, keyCAKey, s.CA)
	put(keyNextCA, keyNextCAKey, s.NextCA)
	put(keyCert, keyKey, s.Serving)
	if len(s.Retired) > 0 {
		d[keyRetiredCAs] = encodeCerts(s.Retired)
	}
	return d
}

// Bundle is the caBundle the webhook configurations must carry: the CA,
// the staged CA and the retired ones.
func (s State) Bundle() []byte {
	var certs []*x509.Certificate
	for _, kp := range []*KeyPair{s.CA, s.NextCA} {
		if kp != nil {
			certs = append(certs, kp.Cert)
		}
	}
	return encodeCerts(append(certs, s.Retired...))
}

// plan decides what s must become at time now: issue, stage, promote or
// retire CAs and renew the serving certificate. nextTrusted says whether
// every webhook configuration's caBundle already holds s.NextCA; a staged
// CA is promoted only then (or when the current CA has expired, since
// nothing works at that point anyway). The reasons say what changed; none
// means s is returned as it was.
func plan(s State, now time.Time, p policy, nextTrusted bool) (State, []string, error) {
	s.Retired = slices.Clone(s.Retired)
	var why []string
	if s.NextCA != nil && !usableCA(s.NextCA, now) {
		s.NextCA = nil
		why = append(why, "dropped the staged CA, which is unusable or expired")
	}
	promote := func() {
		if usableCA(s.CA, now) {
			s.Retired = append(s.Retired, s.CA.Cert)
		}
		s.CA, s.NextCA = s.NextCA, nil
	}
	switch {
	case !usableCA(s.CA, now) && s.NextCA != nil:
		promote()
		why = append(why, "the CA is missing or expired: promoted the staged CA")
	case !usableCA(s.CA, now):
		ca, err := newCA(now, p.caValidity)
		if err != nil {
			return State{}, nil, err
		}
		s.CA = ca
		why = append(why, "no usable CA: issued a new one")
	case s.NextCA != nil && nextTrusted && !now.Before(s.NextCA.Cert.NotBefore.Add(p.propagation)):
		promote()
		why = append(why, "the staged CA has been trusted long enough: it now signs")
	case s.NextCA == nil && !now.Before(refreshAt(s.CA.Cert, p.refresh, p.caValidity)):
		next, err := newCA(now, p.caValidity)
		if err != nil {
			return State{}, nil, err
		}
		s.NextCA = next
		why = append(why, "the CA is due for rotation: staged its successor in the caBundle")
	}

	kept := s.Retired[:0]
	for _, c := range s.Retired {
		if now.Before(c.NotAfter) && !isCert(s.CA, c) && !isCert(s.NextCA, c) &&
			!slices.ContainsFunc(kept, func(k *x509.Certificate) bool { return k.Equal(c) }) {
			kept = append(kept, c)
		}
	}
	if len(kept) != len(s.Retired) {
		why = append(why, "dropped expired or duplicate retired CAs")
	}
	s.Retired = kept

	if reason := servingStale(s.Serving, s.CA, now, p); reason != "" {
		serving, err := newServing(s.CA, p.dnsNames, p.ips, now, p.certValidity)
		if err != nil {
			return State{}, nil, err
		}
		s.Serving = serving
		why = append(why, "serving certificate "+reason+": issued a new one")
	}
	return s, why, nil
}

// servingStale says why the serving certificate must be replaced, or "".
// A certificate past its refresh point is kept when a new one would expire
// no later, which happens when the CA's own end cuts both short; the CA's
// rotation then renews it.
func servingStale(serving, ca *KeyPair, now time.Time, p policy) string {
	switch {
	case serving == nil:
		return "missing"
	case serving.Cert.CheckSignatureFrom(ca.Cert) != nil:
		return "not signed by the current CA"
	case !now.Before(serving.Cert.NotAfter):
		return "expired"
	case !sameNames(serving.Cert, p):
		return "names changed"
	case !now.Before(refreshAt(serving.Cert, p.refresh, p.certValidity)) &&
		servingNotAfter(ca, now, p.certValidity).After(serving.Cert.NotAfter):
		return "due for renewal"
	case !now.Before(refreshAt(serving.Cert, p.refresh, p.certValidity)) && outlives(serving.Cert, now, p.certValidity):
		return "issued for longer than --webhook-cert-validity allows now"
	}
	return ""
}

// nextEvent is the earliest moment after now at which plan could decide
// differently, so the rotator wakes up in time however long its check
// interval is. The zero time means nothing is scheduled.
func nextEvent(s State, now time.Time, p policy) time.Time {
	var times []time.Time
	if s.CA != nil {
		times = append(times, s.CA.Cert.NotAfter)
		if s.NextCA == nil {
			times = append(times, refreshAt(s.CA.Cert, p.refresh, p.caValidity))
		}
	}
	if s.NextCA != nil {
		times = append(times, s.NextCA.Cert.NotBefore.Add(p.propagation))
	}
	if s.Serving != nil {
		times = append(times, refreshAt(s.Serving.Cert, p.refresh, p.certValidity), s.Serving.Cert.NotAfter)
	}
	for _, c := range s.Retired {
		times = append(times, c.NotAfter)
	}
	var next time.Time
	for _, t := range times {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

// refreshAt is the point at which fraction refresh of the certificate's
// lifetime has passed. A certificate issued under a longer validity than
// the one configured now (an operator shortened the flag) counts only the
// configured validity, so that the shorter timing takes effect through
// the normal rotation instead of months later.
func refreshAt(c *x509.Certificate, refresh float64, validity time.Duration) time.Time {
	life := c.NotAfter.Sub(c.NotBefore)
	if limit := validity + backdate(validity); validity > 0 && life > limit {
		life = limit
	}
	return c.NotBefore.Add(time.Duration(float64(life) * refresh))
}

// outlives reports whether c expires later than one issued now would:
// it was issued under a longer validity.
func outlives(c *x509.Certificate, now time.Time, validity time.Duration) bool {
	return c.NotAfter.After(now.Add(validity))
}

// usableCA ignores NotBefore on purpose: a replica whose clock is behind
// must not mistake a CA another replica just issued for a broken one and
// replace it.
func usableCA(kp *KeyPair, now time.Time) bool {
	return kp != nil && kp.Cert.IsCA && now.Before(kp.Cert.NotAfter)
}

func isCert(kp *KeyPair, c *x509.Certificate) bool {
	return kp != nil && kp.Cert.Equal(c)
}

func sameNames(c *x509.Certificate, p policy) bool {
	if !slices.Equal(sorted(c.DNSNames), sorted(p.dnsNames)) {
		return false
	}
	var have, want []string
	for _, ip := range c.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			have = append(have, a.Unmap().String())
		}
	}
	for _, ip := range p.ips {
		want = append(want, ip.Unmap().String())
	}
	return slices.Equal(sorted(have), sorted(want))
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// bundleHas reports whether a PEM caBundle contains the certificate.
func bundleHas(bundle []byte, c *x509.Certificate) bool {
	certs, err := parseCerts(bundle)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(certs, func(b *x509.Certificate) bool { return bytes.Equal(b.Raw, c.Raw) })
}
