package certs

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// Defaults for the zero fields of Options. The names match the kustomize
// manifests under config/ (namePrefix "herald-", namespace herald-system).
const (
	DefaultNamespace            = "herald-system"
	DefaultSecretName           = "herald-webhook-certs"
	DefaultServiceName          = "herald-webhook-service"
	DefaultValidatingWebhook    = "herald-validating-webhook-configuration"
	DefaultMutatingWebhook      = "herald-mutating-webhook-configuration"
	DefaultCAValidity           = 365 * 24 * time.Hour
	DefaultCertValidity         = 90 * 24 * time.Hour
	DefaultRefreshFraction      = 2.0 / 3
	DefaultPropagationDelay     = 5 * time.Minute
	DefaultCheckInterval        = time.Minute
	defaultCertName, defaultKey = "tls.crt", "tls.key"
)

// Options configure a Rotator. Zero fields take the defaults above.
type Options struct {
	// SecretNamespace and SecretName locate the Secret that holds the CA
	// and the serving certificate. Every replica reads it, so all of them
	// serve certificates of the same CA; the first to find it missing
	// creates it.
	SecretNamespace, SecretName string

	// CertDir is where tls.crt and tls.key are written: the webhook
	// server's CertDir. Empty means controller-runtime's default,
	// <tmp>/k8s-webhook-server/serving-certs.
	CertDir string
	// CertName and KeyName are the file names the webhook server reads.
	CertName, KeyName string

	// ServiceName and ServiceNamespace name the Service in front of the
	// webhook server; the serving certificate is issued for
	// <service>.<namespace>.svc and <service>.<namespace>.svc.cluster.local
	// unless DNSNames is set. ServiceNamespace defaults to SecretNamespace.
	ServiceName, ServiceNamespace string
	// DNSNames replaces the Service's names in the certificate.
	DNSNames []string
	// IPAddresses are added to the certificate, for API servers that reach
	// the webhook by address (clientConfig.url).
	IPAddresses []netip.Addr

	// ValidatingWebhookConfiguration and MutatingWebhookConfiguration are
	// the configurations whose every webhook gets the caBundle.
	ValidatingWebhookConfiguration, MutatingWebhookConfiguration string
	// CRDs name the CustomResourceDefinitions whose conversion webhook
	// (spec.conversion.webhook.clientConfig) gets the caBundle, staged CAs
	// included, like the configurations'. nil means DefaultCRDs; an empty,
	// non-nil list means none (a second webhook server in a test, say,
	// which must not take the CRDs over).
	CRDs []string

	// CAValidity and CertValidity are the lifetimes of new certificates.
	CAValidity, CertValidity time.Duration
	// RefreshFraction is how much of a certificate's lifetime passes before
	// it is replaced, between 0 and 1.
	RefreshFraction float64
	// PropagationDelay is how long a new CA sits in the caBundle before it
	// signs the serving certificate, so that every API server trusts it
	// before it meets it. Keep it well below CAValidity*(1-RefreshFraction).
	PropagationDelay time.Duration
	// CheckInterval is how often the Secret, the files and the caBundles
	// are checked and repaired, whatever the certificates' schedule.
	CheckInterval time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// withDefaults fills the zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.SecretNamespace, DefaultNamespace)
	def(&o.SecretName, DefaultSecretName)
	def(&o.CertDir, filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs"))
	def(&o.CertName, defaultCertName)
	def(&o.KeyName, defaultKey)
	def(&o.ServiceName, DefaultServiceName)
	def(&o.ServiceNamespace, o.SecretNamespace)
	def(&o.ValidatingWebhookConfiguration, DefaultValidatingWebhook)
	def(&o.MutatingWebhookConfiguration, DefaultMutatingWebhook)
	if o.CRDs == nil {
		o.CRDs = DefaultCRDs()
	}
	if len(o.DNSNames) == 0 {
		svc := o.ServiceName + "." + o.ServiceNamespace + ".svc"
		o.DNSNames = []string{svc, svc + ".cluster.local"}
	}
	if o.CAValidity == 0 {
		o.CAValidity = DefaultCAValidity
	}
	if o.CertValidity == 0 {
		o.CertValidity = DefaultCertValidity
	}
	if o.RefreshFraction == 0 {
		o.RefreshFraction = DefaultRefreshFraction
	}
	if o.PropagationDelay == 0 {
		o.PropagationDelay = DefaultPropagationDelay
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}

	var errs []error
	if o.RefreshFraction <= 0 || o.RefreshFraction >= 1 {
		errs = append(errs, fmt.Errorf("refresh fraction %v: must be between 0 and 1", o.RefreshFraction))
	}
	if o.CAValidity < 0 || o.CertValidity < 0 || o.PropagationDelay < 0 || o.CheckInterval < 0 {
		errs = append(errs, errors.New("validities, propagation delay and check interval must not be negative"))
	}
	if o.CertValidity > o.CAValidity {
		errs = append(errs, fmt.Errorf("certificate validity %s: must not exceed the CA's, %s", o.CertValidity, o.CAValidity))
	}
	return o, errors.Join(errs...)
}

func (o Options) policy() policy {
	return policy{
		caValidity:   o.CAValidity,
		certValidity: o.CertValidity,
		refresh:      o.RefreshFraction,
		propagation:  o.PropagationDelay,
		dnsNames:     o.DNSNames,
		ips:          o.IPAddresses,
	}
}
