package bench

import (
	"context"
	"fmt"
	"maps"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

// controllerResources are the resources the controller writes. The
// benchmark's own writes in the measured window are only its Service
// creates (POST on "services"); its namespaces and Eip are created before
// the first scrape. The API server's own writes — an IPAddress object per
// ClusterIP, ServiceCIDR status — are of other resources and so are not
// counted. Lease renewals of leader election are the controller's and are
// counted. "events" covers core/v1 and events.k8s.io/v1 Events alike (the
// metric labels the resource, not the group).
var controllerResources = []string{"services", "services/status", "events", "eips", "eips/status", "leases"}

// controllerWrites is what the controller wrote between two scrapes: every
// mutating verb on controllerResources, except POST on "services" (the
// benchmark's creates). Failed writes count (a 409 is a round trip too).
func controllerWrites(before, after map[testenv.Request]float64) map[testenv.Request]float64 {
	out := map[testenv.Request]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 && counted(k) {
			out[k] = d
		}
	}
	return out
}

func counted(k testenv.Request) bool {
	if k.Resource == "services" && k.Verb == "POST" {
		return false
	}
	for _, r := range controllerResources {
		if k.Resource == r {
			return true
		}
	}
	return false
}

// settledWrites waits until the Eip status reports every Service and the
// controller's write counters, leases aside, stood still for a second, and
// returns the last scrape. It polls once a second, at most settlePolls
// times: the controller writes an Eip's status at most once per interval,
// and the interval grows by a second per 1,000 addresses in use.
func settledWrites(ctx context.Context, env *testenv.Env, n int) (map[testenv.Request]float64, error) {
	const settlePolls = 60
	var prev map[testenv.Request]float64
	for range settlePolls {
		cur, err := env.MutatingRequestsByVerb(ctx)
		if err != nil {
			return nil, err
		}
		var eip v1alpha2.Eip
		if err := env.Client.Get(ctx, clientKey(poolName), &eip); err != nil {
			return nil, fmt.Errorf("get eip %s: %w", poolName, err)
		}
		if eip.Status.Usage == n && prev != nil && maps.Equal(withoutLeases(prev), withoutLeases(cur)) {
			return cur, nil
		}
		prev = cur
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for writes to settle: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
	return nil, fmt.Errorf("controller writes did not settle within %d polls a second apart", settlePolls)
}

func withoutLeases(m map[testenv.Request]float64) map[testenv.Request]float64 {
	out := map[testenv.Request]float64{}
	for k, v := range m {
		if counted(k) && k.Resource != "leases" {
			out[k] = v
		}
	}
	return out
}

func clientKey(name string) client.ObjectKey { return client.ObjectKey{Name: name} }
