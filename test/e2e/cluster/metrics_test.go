package cluster

import "testing"

func TestMetricSum(t *testing.T) {
	const exposition = `# HELP rest_client_requests_total Number of HTTP requests.
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:1",method="GET"} 12
rest_client_requests_total{code="<error>",host="127.0.0.1:1",method="GET"} 3
rest_client_requests_total{code="<error>",host="127.0.0.1:1",method="PATCH"} 2
rest_client_requests_total_other{code="<error>"} 100
plain_gauge 7
`
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"rest_client_requests_total", []string{`code="<error>"`}, 5},
		{"rest_client_requests_total", nil, 17},
		{"rest_client_requests_total", []string{`code="<error>"`, `method="GET"`}, 3},
		{"plain_gauge", nil, 7},
		{"missing", nil, 0},
	} {
		if got := MetricSum(exposition, tc.name, tc.labels...); got != tc.want {
			t.Errorf("MetricSum(%s, %v) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if v, ok := MetricValue(exposition, "plain_gauge"); !ok || v != 7 {
		t.Errorf("MetricValue(plain_gauge) = %v, %v", v, ok)
	}
}
