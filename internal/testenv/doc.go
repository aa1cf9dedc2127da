// Package testenv starts a real control plane — the kube-apiserver and etcd
// built from source into bin/ by `make control-plane` — for the tests of the
// controllers, the webhooks and the benchmarks, with Herald's CRDs installed.
//
// It wraps controller-runtime's envtest with what Herald's tests have in
// common: a Service ClusterIP range wide enough for thousands of Services
// (optionally dual-stack), a scheme that knows network.kubesphere.io/v1alpha2,
// and a count of the API server's own mutating-request metric, which is how
// the benchmarks measure writes per allocation server-side.
//
// Missing binaries are an error that says to run `make control-plane`, never
// a skip: a test suite that silently skips its envtest half would pass
// without having tested anything that touches the API server.
//
// Webhook tests run their own server on 127.0.0.1 and register their own
// Validating/MutatingWebhookConfigurations through Env.Client; envtest's
// certificate generation is not used because Herald manages its own certs.
package testenv
