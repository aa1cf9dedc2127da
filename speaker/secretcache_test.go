package speaker

import (
	"errors"
	"testing"
	"time"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestSecretCacheTTL: a password is read once per secretTTL per Secret
// key, errors included, and read again once the TTL passed.
func TestSecretCacheTTL(t *testing.T) {
	var c secretCache
	reads := 0
	value := "one"
	read := func() (string, error) { reads++; return value, nil }
	ref := v1alpha2.SecretKeyRef{Namespace: "ns", Name: "peer", Key: "password"}
	t0 := time.Unix(1000, 0)

	for i, at := range []time.Time{t0, t0.Add(time.Second), t0.Add(secretTTL - time.Millisecond)} {
		if v, err := c.get(ref, at, read); v != "one" || err != nil || reads != 1 {
			t.Fatalf("get %d: %q, %v after %d reads; want the first read reused", i, v, err, reads)
		}
	}
	value = "two"
	if v, _ := c.get(ref, t0.Add(secretTTL), read); v != "two" || reads != 2 {
		t.Fatalf("after the TTL: %q after %d reads; want a fresh read", v, reads)
	}
	other := v1alpha2.SecretKeyRef{Namespace: "ns", Name: "other"}
	failing := func() (string, error) { reads++; return "", errors.New("forbidden") }
	for range 2 {
		if _, err := c.get(other, t0.Add(secretTTL), failing); err == nil {
			t.Fatal("want the read error")
		}
	}
	if reads != 3 {
		t.Errorf("%d reads; a failed read is cached like a good one (want 3)", reads)
	}
}
