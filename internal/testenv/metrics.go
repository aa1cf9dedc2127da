package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"
)

// requestMetric is the API server's counter of handled requests, labelled
// verb, dry_run, group, version, resource, subresource, scope, component
// and code.
const requestMetric = "apiserver_request_total"

// mutatingVerbs are the verb label values of writes. Built-in resources
// report the HTTP method (POST, PUT, PATCH, DELETE); custom resources report
// the request verb upper-cased (CREATE, UPDATE, PATCH, DELETE); server-side
// apply is APPLY for both; a delete of a whole collection is
// DELETECOLLECTION.
var mutatingVerbs = map[string]bool{
	"POST": true, "CREATE": true,
	"PUT": true, "UPDATE": true,
	"PATCH": true, "APPLY": true,
	"DELETE": true, "DELETECOLLECTION": true,
}

// MutatingRequests scrapes the API server's /metrics and returns the number
// of write requests it has served so far, by resource ("services", "eips")
// or by resource and subresource ("services/status"). Failed writes count
// too (a 409 Conflict still cost a round trip); dry-run requests do not.
//
// The counters start at zero with the API server and only grow: measure a
// phase as the difference of two calls.
func (e *Env) MutatingRequests(ctx context.Context) (map[string]float64, error) {
	byVerb, err := e.MutatingRequestsByVerb(ctx)
	if err != nil {
		return nil, err
	}
	return sumVerbs(byVerb), nil
}

// Request names one kind of write: a resource (with "/subresource" when
// there is one) and the verb label the API server counts it under.
type Request struct {
	Resource string
	Verb     string
}

// MutatingRequestsByVerb is MutatingRequests broken out by verb, for
// measurements that must tell a client's creates (POST) from a
// controller's patches of the same resource.
func (e *Env) MutatingRequestsByVerb(ctx context.Context) (map[Request]float64, error) {
	body, err := scrape(ctx, e.Config)
	if err != nil {
		return nil, err
	}
	return mutatingRequests(bytes.NewReader(body))
}

func sumVerbs(byVerb map[Request]float64) map[string]float64 {
	out := make(map[string]float64, len(byVerb))
	for k, v := range byVerb {
		out[k.Resource] += v
	}
	return out
}

// scrape GETs /metrics in the Prometheus text format.
func scrape(ctx context.Context, cfg *rest.Config) ([]byte, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: http client: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape metrics: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// mutatingRequests sums requestMetric's write counters by resource and
// verb. Only the lines of that one metric are handed to the parser: the API
// server's full exposition is megabytes of histograms the benchmarks would
// otherwise parse on every scrape.
func mutatingRequests(r io.Reader) (map[Request]float64, error) {
	var only bytes.Buffer
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for s.Scan() {
		line := s.Bytes()
		if isLineOf(line, requestMetric) {
			only.Write(line)
			only.WriteByte('\n')
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(&only)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", requestMetric, err)
	}
	out := map[Request]float64{}
	family, ok := families[requestMetric]
	if !ok {
		return out, nil
	}
	for _, m := range family.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if !mutatingVerbs[labels["verb"]] || labels["dry_run"] != "" || labels["resource"] == "" {
			continue
		}
		key := labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		out[Request{Resource: key, Verb: labels["verb"]}] += m.GetCounter().GetValue()
	}
	return out, nil
}

// isLineOf reports whether an exposition line is a sample, HELP or TYPE
// line of the named metric (and not of one whose name merely starts so).
func isLineOf(line []byte, name string) bool {
	rest, ok := bytes.CutPrefix(line, []byte(name))
	if !ok {
		for _, meta := range []string{"# HELP ", "# TYPE "} {
			if after, found := bytes.CutPrefix(line, []byte(meta+name)); found {
				return len(after) > 0 && after[0] == ' '
			}
		}
		return false
	}
	return len(rest) > 0 && (rest[0] == '{' || rest[0] == ' ')
}
