package manifests_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/herald-lb/herald/internal/testenv"
)

// dashboardFile is the Grafana dashboard shipped for operators.
const dashboardFile = "deploy/grafana/herald-dashboard.json"

// queryMetric finds the Herald metrics a PromQL expression reads.
var queryMetric = regexp.MustCompile(`\bherald_[a-z0-9_]+`)

// panel is the part of a Grafana panel the check reads: its queries, and
// the panels of a row.
type panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// TestDashboardQueriesExportedMetrics: every query of the dashboard names
// only metrics the binaries export, so a renamed metric cannot leave an
// empty panel behind, and the dashboard covers each area the issue asks
// for (pools, BGP, Layer2, VIP).
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	exported := metricsInCode(t, root)
	data, err := os.ReadFile(filepath.Join(root, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string  `json:"title"`
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Errorf("%s: no title or uid", dashboardFile)
	}
	used := map[string]bool{}
	queries := 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries++
				names := queryMetric.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q: query %q reads no Herald metric", p.Title, tg.Expr)
				}
				for _, n := range names {
					used[n] = true
					if _, ok := exported[n]; !ok {
						t.Errorf("panel %q: query %q reads %s, which no binary exports", p.Title, tg.Expr, n)
					}
				}
			}
		}
	}
	walk(dash.Panels)
	if queries == 0 {
		t.Fatalf("%s has no queries", dashboardFile)
	}
	for _, prefix := range []string{"herald_controller_eip_", "herald_speaker_bgp_", "herald_speaker_layer2_", "herald_speaker_vip_", "herald_keepalived_vip_"} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(used)), func(n string) bool { return strings.HasPrefix(n, prefix) }) {
			t.Errorf("no panel reads a %s* metric", prefix)
		}
	}
}
