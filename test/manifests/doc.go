// Package manifests holds the tests of Herald's install manifest,
// deploy/herald.yaml, the file users apply. `make release-manifest` renders
// it from config/default with the pinned kustomize, and `make verify`
// fails when it is stale, so testing the file tests config/ as shipped.
//
// The tests apply every object to a real API server as a strict
// server-side dry run, so a misspelt field or a wrong type fails here
// rather than at a user's `kubectl apply`, and they check the wiring that no
// schema can: that the webhook Service selects the controller's pods, that
// the webhook configurations and the controller's flags name the same
// objects as webhook/certs' defaults, that every flag in the Deployment is
// one herald-controller defines, and that the ServiceAccount is granted
// every permission the generated role asks for.
package manifests
