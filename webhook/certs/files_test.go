package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	cwmetrics "sigs.k8s.io/controller-runtime/pkg/certwatcher/metrics"
)

func readErrors(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := cwmetrics.ReadCertificateErrors.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestWritePairReloadsCertwatcher runs controller-runtime's own certwatcher,
// as the webhook server does, against the files: a new pair must be served
// promptly (through fsnotify, well before its 10 s poll) and never read
// half-switched.
func TestWritePairReloadsCertwatcher(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, time.Now())
	first := mustServing(t, ca, time.Now())
	second := mustServing(t, ca, time.Now())

	// A directory that already holds plain files, as a previous version or
	// an operator may have left it.
	for name, data := range map[string][]byte{"tls.crt": []byte("old"), "tls.key": []byte("old")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if changed, err := writePair(dir, "tls.crt", "tls.key", first.CertPEM, first.KeyPEM); err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	if changed, err := writePair(dir, "tls.crt", "tls.key", first.CertPEM, first.KeyPEM); err != nil || changed {
		t.Fatalf("writing the same pair again: changed=%v err=%v, want no change", changed, err)
	}

	cw, err := certwatcher.New(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatalf("certwatcher cannot read the files: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = cw.Start(ctx) }()
	served := func() []byte {
		c, _ := cw.GetCertificate(&tls.ClientHelloInfo{})
		return c.Certificate[0]
	}
	if !bytes.Equal(served(), first.Cert.Raw) {
		t.Fatal("certwatcher does not serve the first certificate")
	}
	errorsBefore := readErrors(t)

	// The watcher adds its watches asynchronously; keep rewriting until it
	// has seen a switch, alternating so that every write is a change.
	pairs := []*KeyPair{second, first}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; !bytes.Equal(served(), second.Cert.Raw); i++ {
		if time.Now().After(deadline) {
			t.Fatal("certwatcher still serves the old certificate 5 s after the switch")
		}
		if i%20 == 0 {
			p := pairs[(i/20)%2]
			if _, err := writePair(dir, "tls.crt", "tls.key", p.CertPEM, p.KeyPEM); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := readErrors(t) - errorsBefore; got != 0 {
		t.Errorf("certwatcher failed %v reads during the switches; want none", got)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var generations []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), generationPfx) {
			generations = append(generations, e.Name())
		}
	}
	if len(generations) != 1 {
		t.Errorf("generations left in %s: %v, want exactly the current one", dir, generations)
	}
	fi, err := os.Stat(filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("tls.key mode %v, want 0600", fi.Mode().Perm())
	}
}
