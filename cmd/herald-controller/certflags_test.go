package main

import (
	"strings"
	"testing"
	"time"

	"github.com/herald-lb/herald/webhook/certs"
)

func TestCheckCertFlags(t *testing.T) {
	valid := func() flags {
		var f flags
		f.certs = certs.Options{
			CAValidity: certs.DefaultCAValidity, CertValidity: certs.DefaultCertValidity,
			RefreshFraction: certs.DefaultRefreshFraction, PropagationDelay: certs.DefaultPropagationDelay,
			CheckInterval: certs.DefaultCheckInterval,
		}
		return f
	}
	if err := valid().checkCertFlags(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for _, tc := range []struct {
		edit func(*flags)
		want string
	}{
		{func(f *flags) { f.certs.CertValidity = 0 }, "--webhook-cert-validity: 0s: must be positive"},
		{func(f *flags) { f.certs.CAValidity = -time.Hour }, "--webhook-ca-validity"},
		{func(f *flags) { f.certs.CheckInterval = 0 }, "--webhook-cert-check-interval"},
		{func(f *flags) { f.certs.RefreshFraction = 1 }, "--webhook-cert-refresh-fraction: 1: must be between 0 and 1"},
		{func(f *flags) { f.certs.CAValidity, f.certs.PropagationDelay = time.Minute, 30*time.Second }, "--webhook-ca-propagation-delay: 30s: must be below"},
	} {
		f := valid()
		tc.edit(&f)
		if err := f.checkCertFlags(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}
