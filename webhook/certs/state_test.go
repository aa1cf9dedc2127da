package certs

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testPolicy = policy{
	caValidity:   100 * time.Hour,
	certValidity: 30 * time.Hour,
	refresh:      2.0 / 3,
	propagation:  time.Hour,
	dnsNames:     []string{"svc.ns.svc"},
}

func mustCA(t *testing.T, at time.Time) *KeyPair {
	t.Helper()
	kp, err := newCA(at, testPolicy.caValidity)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func mustServing(t *testing.T, ca *KeyPair, at time.Time, names ...string) *KeyPair {
	t.Helper()
	if len(names) == 0 {
		names = testPolicy.dnsNames
	}
	kp, err := newServing(ca, names, nil, at, testPolicy.certValidity)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// outcome describes what plan did to each part: "kept" (the same object),
// "new", "none", or "staged" (the NextCA of the input became the CA).
type outcome struct {
	CA, NextCA, Serving string
	Retired             int
	Reasons             []string // a phrase of each reason, in order
}

func describe(in, out State, reasons []string) outcome {
	part := func(before, after *KeyPair) string {
		switch {
		case after == nil:
			return "none"
		case after == before:
			return "kept"
		case after == in.NextCA:
			return "staged"
		}
		return "new"
	}
	o := outcome{CA: part(in.CA, out.CA), NextCA: part(in.NextCA, out.NextCA), Serving: part(in.Serving, out.Serving), Retired: len(out.Retired)}
	o.Reasons = append(o.Reasons, reasons...)
	return o
}

func TestPlan(t *testing.T) {
	ca := mustCA(t, t0)
	next := mustCA(t, t0.Add(67*time.Hour))
	other := mustCA(t, t0)
	serving := mustServing(t, ca, t0)
	late := mustServing(t, ca, t0.Add(60*time.Hour)) // fresh when the CA is due
	expiredCA := mustCA(t, t0.Add(-200*time.Hour))

	tests := []struct {
		name    string
		in      State
		at      time.Time
		trusted bool
		policy  func(p policy) policy
		want    outcome
	}{{
		name: "nothing yet: a CA and a serving certificate",
		at:   t0,
		want: outcome{CA: "new", NextCA: "none", Serving: "new",
			Reasons: []string{"no usable CA", "serving certificate missing"}},
	}, {
		name: "fresh: nothing to do",
		in:   State{CA: ca, Serving: serving},
		at:   t0.Add(time.Hour),
		want: outcome{CA: "kept", NextCA: "none", Serving: "kept"},
	}, {
		name: "serving past two thirds of its life: renewed by the same CA",
		in:   State{CA: ca, Serving: serving},
		at:   t0.Add(21 * time.Hour),
		want: outcome{CA: "kept", NextCA: "none", Serving: "new", Reasons: []string{"due for renewal"}},
	}, {
		name: "serving expired",
		in:   State{CA: ca, Serving: serving},
		at:   t0.Add(31 * time.Hour),
		want: outcome{CA: "kept", NextCA: "none", Serving: "new", Reasons: []string{"expired"}},
	}, {
		name:   "names changed",
		in:     State{CA: ca, Serving: serving},
		at:     t0.Add(time.Hour),
		policy: func(p policy) policy { p.dnsNames = []string{"svc.other.svc"}; return p },
		want:   outcome{CA: "kept", NextCA: "none", Serving: "new", Reasons: []string{"names changed"}},
	}, {
		name: "signed by another CA",
		in:   State{CA: other, Serving: serving},
		at:   t0.Add(time.Hour),
		want: outcome{CA: "kept", NextCA: "none", Serving: "new", Reasons: []string{"not signed by the current CA"}},
	}, {
		name:   "validity shortened: the serving certificate is renewed at the new half-life",
		in:     State{CA: ca, Serving: serving},
		at:     t0.Add(7 * time.Hour),
		policy: func(p policy) policy { p.certValidity = 10 * time.Hour; return p },
		want:   outcome{CA: "kept", NextCA: "none", Serving: "new", Reasons: []string{"issued for longer than"}},
	}, {
		name:   "CA validity shortened: its successor is staged through the normal rotation",
		in:     State{CA: ca, Serving: serving},
		at:     t0.Add(15 * time.Hour),
		policy: func(p policy) policy { p.caValidity = 20 * time.Hour; return p },
		want:   outcome{CA: "kept", NextCA: "new", Serving: "kept", Reasons: []string{"staged its successor"}},
	}, {
		name: "CA due: its successor is staged, nothing else changes",
		in:   State{CA: ca, Serving: late},
		at:   t0.Add(67 * time.Hour),
		want: outcome{CA: "kept", NextCA: "new", Serving: "kept", Reasons: []string{"staged its successor"}},
	}, {
		name:    "staged CA trusted but too recent: wait",
		in:      State{CA: ca, NextCA: next, Serving: late},
		at:      t0.Add(67*time.Hour + 30*time.Minute),
		trusted: true,
		want:    outcome{CA: "kept", NextCA: "kept", Serving: "kept"},
	}, {
		name: "staged CA old enough but not in every caBundle yet: wait",
		in:   State{CA: ca, NextCA: next, Serving: late},
		at:   t0.Add(69 * time.Hour),
		want: outcome{CA: "kept", NextCA: "kept", Serving: "kept"},
	}, {
		name:    "staged CA trusted long enough: it signs, the old one is retired",
		in:      State{CA: ca, NextCA: next, Serving: late},
		at:      t0.Add(69 * time.Hour),
		trusted: true,
		want: outcome{CA: "staged", NextCA: "none", Serving: "new", Retired: 1,
			Reasons: []string{"now signs", "not signed by the current CA"}},
	}, {
		name: "CA expired with a staged successor: promoted at once, trusted or not",
		in:   State{CA: ca, NextCA: next, Serving: late},
		at:   t0.Add(101 * time.Hour),
		want: outcome{CA: "staged", NextCA: "none", Serving: "new",
			Reasons: []string{"promoted the staged CA", "not signed by the current CA"}},
	}, {
		name: "CA expired, nothing staged: start over",
		in:   State{CA: expiredCA, Serving: serving},
		at:   t0.Add(time.Hour),
		want: outcome{CA: "new", NextCA: "none", Serving: "new",
			Reasons: []string{"no usable CA", "not signed by the current CA"}},
	}, {
		name: "retired CAs: the expired one and a duplicate of the CA go",
		in:   State{CA: ca, Serving: serving, Retired: []*x509.Certificate{expiredCA.Cert, other.Cert, ca.Cert, other.Cert}},
		at:   t0.Add(time.Hour),
		want: outcome{CA: "kept", NextCA: "none", Serving: "kept", Retired: 1, Reasons: []string{"dropped expired or duplicate"}},
	}, {
		name: "serving cut short by the CA's end: kept rather than reissued for ever",
		in:   State{CA: ca, NextCA: next, Serving: mustServing(t, ca, t0.Add(95*time.Hour))},
		at:   t0.Add(99 * time.Hour),
		want: outcome{CA: "kept", NextCA: "kept", Serving: "kept"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			if tt.policy != nil {
				p = tt.policy(p)
			}
			out, reasons, err := plan(tt.in, tt.at, p, tt.trusted)
			if err != nil {
				t.Fatal(err)
			}
			got := describe(tt.in, out, reasons)
			// Reasons are compared by phrase: the rows name the decision,
			// not the whole sentence.
			if len(got.Reasons) == len(tt.want.Reasons) {
				for i, phrase := range tt.want.Reasons {
					if strings.Contains(got.Reasons[i], phrase) {
						got.Reasons[i] = phrase
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if out.Serving != nil && out.Serving.Cert.CheckSignatureFrom(out.CA.Cert) != nil {
				t.Error("serving certificate not signed by the resulting CA")
			}
		})
	}
}

func TestBundleOrder(t *testing.T) {
	ca, next, old := mustCA(t, t0), mustCA(t, t0), mustCA(t, t0)
	s := State{CA: ca, NextCA: next, Retired: []*x509.Certificate{old.Cert}}
	certs, err := parseCerts(s.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range certs {
		got = append(got, c.Subject.CommonName+"/"+c.SerialNumber.String())
	}
	want := []string{
		ca.Cert.Subject.CommonName + "/" + ca.Cert.SerialNumber.String(),
		next.Cert.Subject.CommonName + "/" + next.Cert.SerialNumber.String(),
		old.Cert.Subject.CommonName + "/" + old.Cert.SerialNumber.String(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bundle (-want +got):\n%s", diff)
	}
}

func TestNextEvent(t *testing.T) {
	ca := mustCA(t, t0)
	serving := mustServing(t, ca, t0)
	next := mustCA(t, t0.Add(67*time.Hour))
	tests := []struct {
		name string
		in   State
		at   time.Time
		want time.Time
	}{{
		name: "the serving certificate's refresh point comes first",
		in:   State{CA: ca, Serving: serving},
		at:   t0,
		want: refreshAt(serving.Cert, testPolicy.refresh, testPolicy.certValidity),
	}, {
		name: "past the serving refresh point: its expiry",
		in:   State{CA: ca, Serving: serving},
		at:   t0.Add(25 * time.Hour),
		want: serving.Cert.NotAfter,
	}, {
		name: "a staged CA: when it may sign",
		in:   State{CA: ca, NextCA: next},
		at:   t0.Add(67 * time.Hour),
		want: next.Cert.NotBefore.Add(testPolicy.propagation),
	}, {
		name: "everything in the past: nothing scheduled",
		in:   State{CA: ca, Serving: serving},
		at:   t0.Add(1000 * time.Hour),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextEvent(tt.in, tt.at, testPolicy); !got.Equal(tt.want) {
				t.Errorf("nextEvent = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStateFromSecret(t *testing.T) {
	ca := mustCA(t, t0)
	serving := mustServing(t, ca, t0)
	s := State{CA: ca, Serving: serving, Retired: []*x509.Certificate{mustCA(t, t0).Cert}}

	round, problems := stateFromSecret(s.data())
	if len(problems) > 0 {
		t.Fatalf("problems reading what data() wrote: %v", problems)
	}
	if !round.CA.Cert.Equal(ca.Cert) || !round.Serving.Cert.Equal(serving.Cert) || len(round.Retired) != 1 || round.NextCA != nil {
		t.Errorf("round trip lost something: %+v", round)
	}

	data := s.data()
	data[keyCAKey] = serving.KeyPEM // the wrong key
	broken, problems := stateFromSecret(data)
	if broken.CA != nil || len(problems) != 1 || !strings.Contains(problems[0].Error(), "ca.crt/ca.key") {
		t.Errorf("a CA with the wrong key: CA=%v problems=%v; want it dropped and reported", broken.CA, problems)
	}
}
