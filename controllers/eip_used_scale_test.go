package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eipused"
)

// etcdRequestLimit is etcd's default --max-request-bytes, which the test
// control plane keeps, as clusters do: an object larger than this cannot
// be written.
const etcdRequestLimit = 1536 * 1024

// TestUsedFormAt60000 writes the status the Eip reconciler computes for a
// /16 with 60,000 addresses in use straight to the API server, through
// the reconciler's own status write, without 60,000 Services: the full
// map just under auto's limit (what it costs must be what usedBytes
// estimates), the full map at 60,000 (it must fail, or come within a
// quarter of etcd's limit),
// and the compact form at 60,000, laid out as the allocator hands
// addresses out and in the worst layout, which must read back whole and
// small. It logs every size it measures.
func TestUsedFormAt60000(t *testing.T) {
	ctx := context.Background()
	const name = "used-60k"
	createEip(t, name, "10.200.0.0/16")
	base := netip.MustParseAddr("10.200.0.0")
	r := &EipReconciler{Client: env.Client}
	write := func(used map[netip.Addr][]string, form UsedForm) (v1alpha2.EipStatus, int, error) {
		t.Helper()
		var e v1alpha2.Eip
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &e); err != nil {
			t.Fatal(err)
		}
		st := statusFor(&e, poolReport{valid: true, size: 1 << 16, used: used}, form)
		body, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.writeStatus(ctx, &e, st)
		return st, len(body), err
	}

	empty := storedSize(t, name)
	// Just under auto's limit: the map, and what it costs is what
	// usedBytes estimates.
	const underLimit = 9000
	st, body, err := write(usedMap(base, lowestFirst(underLimit)), UsedForm{Mode: UsedAuto})
	if err != nil {
		t.Fatalf("full form at %d addresses (%d bytes of status): %v", underLimit, body, err)
	}
	if len(st.Used) != underLimit || st.UsedCompact != nil {
		t.Fatalf("auto at %d addresses wrote %d map entries and usedCompact %v; want the map", underLimit, len(st.Used), st.UsedCompact)
	}
	size, estimate := storedSize(t, name), usedBytes(st.Used)
	t.Logf("full status.used, %d addresses: status %d bytes, stored object %d bytes (%d without status; %.1f per address), usedBytes estimate %d",
		underLimit, body, size, empty, float64(size-empty)/underLimit, estimate)
	if grown := size - empty; grown < estimate || grown > estimate+estimate/10 {
		t.Errorf("the map grew the object by %d bytes; usedBytes estimates %d", grown, estimate)
	}

	// Around etcd's limit, for the record: where the map stops fitting
	// with its managedFields, and where it stops fitting at all.
	for _, n := range []int{26000, 30000, 45000} {
		if _, body, err := write(usedMap(base, lowestFirst(n)), UsedForm{Mode: UsedFull}); err != nil {
			t.Logf("full status.used, %d addresses: status %d bytes; the write fails: %v", n, body, err)
		} else {
			t.Logf("full status.used, %d addresses: status %d bytes, stored object %d bytes (managedFields %d): written",
				n, body, storedSize(t, name), managedFieldsSize(t, name))
		}
	}

	full60k := usedMap(base, lowestFirst(60000))
	if _, body, err := write(full60k, UsedForm{Mode: UsedFull}); err != nil {
		t.Logf("full status.used, 60,000 addresses: status %d bytes; the write fails: %v", body, err)
	} else {
		size := storedSize(t, name)
		t.Logf("full status.used, 60,000 addresses: status %d bytes, stored object %d bytes: written", body, size)
		if size < etcdRequestLimit*3/4 {
			t.Errorf("full form at 60,000 takes only %d bytes; the compact form was not needed", size)
		}
	}

	worst := worstLayout(60000)
	for _, tc := range []struct {
		name string
		offs []uint64
		max  int
	}{
		{"lowest first", lowestFirst(60000), 4 << 10},
		{"worst layout", worst, 64 << 10},
	} {
		used := usedMap(base, tc.offs)
		st, body, err := write(used, UsedForm{Mode: UsedAuto})
		if err != nil {
			t.Fatalf("compact form at 60,000, %s (%d bytes of status): %v", tc.name, body, err)
		}
		if st.UsedCompact == nil || st.Used != nil {
			t.Fatalf("%s: auto wrote used %d entries, usedCompact %v; want the compact form alone", tc.name, len(st.Used), st.UsedCompact)
		}
		var back v1alpha2.Eip
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &back); err != nil {
			t.Fatal(err)
		}
		if back.Status.Used != nil || back.Status.Usage != 60000 || back.Status.UsedCompact == nil {
			t.Fatalf("%s: read back used %d entries, usage %d, usedCompact %v", tc.name, len(back.Status.Used), back.Status.Usage, back.Status.UsedCompact != nil)
		}
		spans, err := eipused.Decode(back.Status.UsedCompact)
		if err != nil {
			t.Fatalf("%s: read back: %v", tc.name, err)
		}
		n := 0
		for _, s := range spans {
			for a := s.First; ; a = a.Next() {
				if _, ok := used[a]; !ok {
					t.Fatalf("%s: read back %s, which is not in use", tc.name, a)
				}
				n++
				if a == s.Last {
					break
				}
			}
		}
		if n != 60000 {
			t.Fatalf("%s: read back %d addresses, want 60,000", tc.name, n)
		}
		size := storedSize(t, name)
		t.Logf("compact status.usedCompact, 60,000 addresses, %s: runs %d characters, status %d bytes, stored object %d bytes",
			tc.name, len(back.Status.UsedCompact.Runs), body, size)
		if size > tc.max {
			t.Errorf("%s: stored object %d bytes, want at most %d", tc.name, size, tc.max)
		}
	}
}

// storedSize is the size of an Eip as the API server returns it, JSON
// with its managedFields, which is what etcd stores for a custom
// resource.
func storedSize(t *testing.T, name string) int {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha2.GroupVersion.WithKind("Eip"))
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, u); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	return len(data)
}

// managedFieldsSize is the size of an Eip's metadata.managedFields as
// JSON.
func managedFieldsSize(t *testing.T, name string) int {
	t.Helper()
	var e v1alpha2.Eip
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &e); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(e.ManagedFields)
	if err != nil {
		t.Fatal(err)
	}
	return len(data)
}

func lowestFirst(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)
	}
	return out
}

// worstLayout spreads the free addresses of a /16 one by one between the
// n in use: the most runs n addresses can make there.
func worstLayout(n int) []uint64 {
	const pool = 1 << 16
	free := map[uint64]bool{}
	for k := range uint64(pool - n) {
		free[1+k*pool/uint64(pool-n)] = true
	}
	out := make([]uint64, 0, n)
	for off := uint64(0); off < pool && len(out) < n; off++ {
		if !free[off] {
			out = append(out, off)
		}
	}
	return out
}

// usedMap is the allocator's report of addresses in use: each held by one
// Service with a name of realistic length ("team-07/web-12345").
func usedMap(base netip.Addr, offs []uint64) map[netip.Addr][]string {
	b := base.As4()
	first := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	used := make(map[netip.Addr][]string, len(offs))
	for i, off := range offs {
		v := first + uint32(off)
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		used[a] = []string{fmt.Sprintf("team-%02d/web-%05d", i%40, i)}
	}
	return used
}
