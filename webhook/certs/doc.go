// Package certs gives the admission webhook server its TLS certificate
// without a manual step, cert-manager or a Helm hook: the controller issues
// a self-signed CA and a serving certificate (ECDSA P-256), renews them
// before they expire and keeps the caBundle of the webhook configurations,
// and of the CRDs whose conversion webhook the same server answers
// (Options.CRDs), pointing at that CA.
//
// The Secret (herald-system/herald-webhook-certs by default) is the source
// of truth. Every replica of the controller serves webhooks, so every
// replica runs a Rotator (it needs no leader); if each generated its own
// CA, the caBundle could trust only one of them. Instead each replica
// reads the Secret, the first to find it missing or due creates or renews
// it (updates carry the resourceVersion, so of two racing replicas one
// wins and the other reads the winner's), and each writes tls.crt and
// tls.key into its own webhook server's CertDir from it.
// controller-runtime's webhook server reads those files through its
// certwatcher, which reloads on fsnotify events and polls every 10 s; the
// files are switched together through a symlink, as the kubelet does for
// Secret volumes, so it never reads a certificate with the other's key.
//
// Ordering: the manager starts its webhook server before runnables such
// as the Rotator, and the server fails if the files are missing. Setup (or
// Bootstrap) therefore writes them synchronously before the manager starts;
// Ready and Check (a readyz checker) report the same state.
//
// Rotation: the serving certificate is reissued when RefreshFraction of its
// lifetime has passed, when its names change or when the CA changes. A
// certificate or CA issued under a longer validity than the one configured
// now counts only the configured one, so a shortened flag takes effect
// through this same rotation at the next check. A CA
// due for rotation is first staged: added to the caBundle next to the
// current one while the current one keeps signing. Once every webhook
// configuration and conversion CRD holds the staged CA and PropagationDelay has passed, it
// becomes the signing CA and the serving certificate is reissued; the old
// CA stays in the caBundle until it expires, so a replica that has not yet
// picked up the new certificate is still trusted. The Rotator re-reads and
// repairs everything every CheckInterval, including a caBundle someone
// overwrote (kubectl apply of the raw manifests, a Helm upgrade).
package certs
