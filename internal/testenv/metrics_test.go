package testenv

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// exposition is a trimmed scrape of kube-apiserver 1.37: built-in resources
// report HTTP methods, custom resources upper-cased verbs.
const exposition = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="status",verb="PATCH",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="status",verb="APPLY",version="v1"} 1
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="status",verb="PUT",version="v1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="services",scope="cluster",subresource="",verb="LIST",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="services",scope="cluster",subresource="",verb="WATCH",version="v1"} 4
apiserver_request_total{code="201",component="apiserver",dry_run="All",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 9
apiserver_request_total{code="201",component="apiserver",dry_run="",group="network.kubesphere.io",resource="eips",scope="cluster",subresource="",verb="CREATE",version="v1alpha2"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="network.kubesphere.io",resource="eips",scope="cluster",subresource="status",verb="UPDATE",version="v1alpha2"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="network.kubesphere.io",resource="eips",scope="cluster",subresource="",verb="DELETECOLLECTION",version="v1alpha2"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="",verb="GET",version=""} 11
# HELP apiserver_request_total_extra a metric whose name only starts the same
# TYPE apiserver_request_total_extra counter
apiserver_request_total_extra{resource="services",verb="POST"} 100
# HELP apiserver_request_duration_seconds latency
# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{resource="services",verb="POST",le="+Inf"} 3
`

func TestMutatingRequests(t *testing.T) {
	got, err := mutatingRequests(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	want := map[Request]float64{
		{"services", "POST"}:         3,
		{"services/status", "PATCH"}: 2,
		{"services/status", "APPLY"}: 1,
		{"services/status", "PUT"}:   1,
		{"eips", "CREATE"}:           1,
		{"eips/status", "UPDATE"}:    5,
		{"eips", "DELETECOLLECTION"}: 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mutatingRequests (-want +got):\n%s", diff)
	}
	wantSums := map[string]float64{
		"services":        3,
		"services/status": 4,
		"eips":            2,
		"eips/status":     5,
	}
	if diff := cmp.Diff(wantSums, sumVerbs(got)); diff != "" {
		t.Errorf("sumVerbs (-want +got):\n%s", diff)
	}
}

func TestMutatingRequestsEmpty(t *testing.T) {
	got, err := mutatingRequests(strings.NewReader("# HELP up x\n# TYPE up gauge\nup 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("mutatingRequests = %v, want empty", got)
	}
}
