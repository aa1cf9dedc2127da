// Package manifests holds the tests of Herald's install manifest,
// deploy/herald.yaml, the file users apply. `make release-manifest` renders
// it from config/default with the pinned kustomize, and `make verify`
// fails when it is stale, so testing the file tests config/ as shipped.
//
// The tests apply every object to a real API server as a strict
// server-side dry run, so a misspelt field or a wrong type fails here
// rather than at a user's `kubectl apply`, and dry-run a pod of each
// workload, which Pod Security admission judges against the namespace's
// level. They check the wiring that no schema can: that the webhook
// Service selects the controller's pods and not the speaker's, that the
// webhook configurations and the controller's flags name the same objects
// as webhook/certs' defaults, that every flag in the Deployment and the
// DaemonSet is one herald-controller or herald-speaker defines, that the
// speaker's pods run on the host network, learn their node's name and are
// probed where the speaker serves probes, and that each ServiceAccount is
// granted every permission its generated role asks for and, for the
// speaker, nothing more. Then they apply the release's RBAC and admission
// policies to a real API server and make requests as each ServiceAccount
// (impersonated), checking what it must be able to do and what a stolen
// token must not: the speaker's is on every node. PROJECT, kubebuilder's
// project file, is checked against the API types, reconcilers and webhook
// paths it describes, and the README's Metrics table against the metrics
// the Go sources create.
package manifests
