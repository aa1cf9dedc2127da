package convert

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/randfill"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// iterations per kind and direction: enough for every optional field to be
// both set and unset many times, fast enough under -race.
const iterations = 1000

// filler fills every field of the API types with random values the API
// server could hold: times in whole seconds (what JSON carries),
// int-or-strings of either kind, and metadata with random labels and
// annotations (never the conversion annotations, which are the
// converters' own).
func filler(seed int64) *randfill.Filler {
	return withAPIValues(randfill.NewWithSeed(seed))
}

// withAPIValues sets f up as filler describes.
func withAPIValues(f *randfill.Filler) *randfill.Filler {
	return f.NilChance(0.3).NumElements(0, 3).Funcs(
		func(t *metav1.Time, c randfill.Continue) {
			*t = metav1.Unix(c.Int63n(4e9), 0)
		},
		func(d *metav1.Duration, c randfill.Continue) {
			d.Duration = time.Duration(c.Int63n(int64(time.Hour)))
		},
		func(v *intstr.IntOrString, c randfill.Continue) {
			if c.Bool() {
				*v = intstr.FromInt32(c.Int31())
			} else {
				*v = intstr.FromString(c.String(5))
			}
		},
		// The webhook framework sets apiVersion and kind, not the
		// converters.
		func(*metav1.TypeMeta, randfill.Continue) {},
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			*m = metav1.ObjectMeta{Name: c.String(8), ResourceVersion: c.String(3), Generation: c.Int63()}
			c.Fill(&m.Labels)
			c.Fill(&m.Annotations)
			c.Fill(&m.Finalizers)
		},
		// Small numbers for the fields whose mapping narrows, so that both
		// the fitting and the overflowing cases come up.
		func(t *v1alpha2.Transport, c randfill.Continue) {
			c.FillNoCustom(t)
			if c.Bool() {
				t.RemotePort %= 70000
			}
		},
		func(a *v1alpha2.AddPathsConfig, c randfill.Continue) {
			c.FillNoCustom(a)
			if c.Bool() {
				a.SendMax %= 300
			}
		},
	)
}

// wire sends obj through JSON, as the API server and the webhook do.
func wire[T any](t *testing.T, obj *T) *T {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// same fails the test with a diff unless want and got are semantically
// equal (nil and empty alike, times compared as instants).
func same(t *testing.T, what string, want, got any) {
	t.Helper()
	if !apiequality.Semantic.DeepEqual(want, got) {
		t.Fatalf("%s (-want +got):\n%s", what, cmp.Diff(want, got))
	}
}

// roundTrips checks both directions for one kind: spoke → hub → spoke and
// hub → spoke → hub must give back what they started with, through JSON
// at every step, and the conversion annotations must not show on the
// result.
func roundTrips[H, S any](t *testing.T, toHub func(context.Context, *S, *H) error, fromHub func(context.Context, *H, *S) error) {
	roundTripsWith(t, filler(1), iterations, toHub, fromHub)
}

func roundTripsWith[H, S any](t *testing.T, f *randfill.Filler, n int, toHub func(context.Context, *S, *H) error, fromHub func(context.Context, *H, *S) error) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		spoke := new(S)
		f.Fill(spoke)
		hub := new(H)
		if err := toHub(ctx, wire(t, spoke), hub); err != nil {
			t.Fatalf("iteration %d: to v1alpha2: %v", i, err)
		}
		back := new(S)
		if err := fromHub(ctx, wire(t, hub), back); err != nil {
			t.Fatalf("iteration %d: back to v1alpha1: %v", i, err)
		}
		same(t, "v1alpha1 → v1alpha2 → v1alpha1", spoke, wire(t, back))

		hub = new(H)
		f.Fill(hub)
		spoke = new(S)
		if err := fromHub(ctx, wire(t, hub), spoke); err != nil {
			t.Fatalf("iteration %d: to v1alpha1: %v", i, err)
		}
		hubBack := new(H)
		if err := toHub(ctx, wire(t, spoke), hubBack); err != nil {
			t.Fatalf("iteration %d: back to v1alpha2: %v", i, err)
		}
		same(t, "v1alpha2 → v1alpha1 → v1alpha2", hub, wire(t, hubBack))
	}
}

func TestEipRoundTrips(t *testing.T) {
	roundTrips(t, EipToHub, EipFromHub)
}

func TestBgpConfRoundTrips(t *testing.T) {
	roundTrips(t, BgpConfToHub, BgpConfFromHub)
}

func TestBgpPeerRoundTrips(t *testing.T) {
	roundTrips(t, BgpPeerToHub, BgpPeerFromHub)
}

// FuzzRoundTrips is the same check driven by Go's fuzzer
// (`go test -fuzz FuzzRoundTrips ./webhook/convert/`); plain `go test`
// runs the seeds.
func FuzzRoundTrips(f *testing.F) {
	for _, seed := range []string{"", "herald", "\x00\xff\x10 v1alpha1 -> v1alpha2", "0123456789abcdefghijklmnopqrstuvwxyz"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTripsWith(t, withAPIValues(randfill.NewFromGoFuzz(data)), 1, EipToHub, EipFromHub)
		roundTripsWith(t, withAPIValues(randfill.NewFromGoFuzz(data)), 1, BgpConfToHub, BgpConfFromHub)
		roundTripsWith(t, withAPIValues(randfill.NewFromGoFuzz(data)), 1, BgpPeerToHub, BgpPeerFromHub)
	})
}
