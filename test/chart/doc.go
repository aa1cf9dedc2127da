// Package chart holds the tests of Herald's Helm chart, deploy/charts/herald,
// run with the Helm CLI that `make helm` builds into bin/ (pinned, from its
// Go module; `make test` builds it first).
//
// They lint the chart strictly; render it with the defaults and compare it,
// object by object and field by field, with deploy/herald.yaml, so the two
// install paths cannot drift; render it with every kind of non-default
// value and check that each lands where the binaries read it (and that a
// disabled thing is gone); check that values.schema.json refuses typos and
// wrong types; dry-run the non-default render on a real API server
// (strict, server-side, through internal/testenv like test/manifests does
// for deploy/herald.yaml) and exercise the admission policy a disabled mode
// adds; render two chart versions and check that no selector changed; and
// check that the README's values table lists every value.
//
// The KubeSphere 4.x extension (deploy/kubesphere/herald) has no packaging
// tool here, and that tool's lint discards Helm's errors, so these tests
// are its offline check: extension.yaml decoded strictly and validated,
// the chart built the way the tool builds it (a Chart.yaml made from
// extension.yaml over the directory, the Herald chart as a dependency
// tagged agent), linted and rendered with KubeSphere's global values, which
// must reach every image and pod; permissions.yaml decoded strictly as one
// ClusterRole and one Role and checked to cover every object rendered; and
// the extension's copy of the chart checked to be current.
package chart
