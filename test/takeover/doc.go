// Package takeover tests the most common install: Herald replacing a
// running OpenELB in place, against a real kube-apiserver and the real
// herald-controller binary with its webhooks (conversion included). The
// README's "Migrating from OpenELB" describes the steps it follows.
package takeover
