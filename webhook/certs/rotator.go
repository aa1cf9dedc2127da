package certs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// +kubebuilder:rbac:groups="",namespace=herald-system,resources=secrets,verbs=get;create;update
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations;mutatingwebhookconfigurations,verbs=get;update

// ErrNotReady is what the readiness check returns until the certificate
// files have been written.
var ErrNotReady = errors.New("webhook serving certificate not written yet")

// Rotator keeps the webhook server's certificate, the Secret it comes from
// and the webhook configurations' caBundle in step. It runs on every
// replica (NeedLeaderElection is false): each one serves webhooks and needs
// the files.
type Rotator struct {
	opts   Options
	policy policy
	client client.Client
	reader client.Reader
	log    logr.Logger

	mu        sync.Mutex // one sync at a time: Bootstrap and Start may overlap
	ready     chan struct{}
	readyOnce sync.Once
}

var (
	_ manager.Runnable               = (*Rotator)(nil)
	_ manager.LeaderElectionRunnable = (*Rotator)(nil)
)

// New returns a Rotator that writes through c and reads through reader.
// Pass the manager's API reader, not its cache: the Secret and the
// webhook configurations are read a few times a minute, and a cache would
// watch every Secret of the cluster to serve those reads.
func New(opts Options, c client.Client, reader client.Reader, log logr.Logger) (*Rotator, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("webhook certificates: %w", err)
	}
	return &Rotator{
		opts:   o,
		policy: o.policy(),
		client: c,
		reader: reader,
		log:    log,
		ready:  make(chan struct{}),
	}, nil
}

// Bootstrap makes sure the certificate files exist, retrying until it
// succeeds or ctx ends. Call it before the manager starts: the webhook
// server reads the files when it starts (and fails if they are missing),
// and the manager starts webhook servers before the group of runnables
// this one belongs to.
func (r *Rotator) Bootstrap(ctx context.Context) error {
	var last error
	for {
		_, err := r.sync(ctx)
		if err == nil {
			return nil
		}
		last = err
		r.log.Error(err, "webhook certificates not ready yet; retrying", "secret", r.secretKey())
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhook certificates: %w", errors.Join(last, ctx.Err()))
		case <-time.After(time.Second):
		}
	}
}

// Start keeps everything in step until ctx ends: at every CheckInterval,
// and at each moment a certificate is due for renewal.
func (r *Rotator) Start(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		wait := r.opts.CheckInterval
		next, err := r.sync(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.Error(err, "keeping webhook certificates up to date; retrying", "secret", r.secretKey())
			wait = min(wait, 5*time.Second)
		case !next.IsZero():
			// A little after the event, so that plan sees it as passed.
			wait = min(wait, max(next.Sub(r.opts.Now())+50*time.Millisecond, 10*time.Millisecond))
		}
		timer.Reset(wait)
	}
}

// NeedLeaderElection is false: every replica serves webhooks.
func (r *Rotator) NeedLeaderElection() bool { return false }

// Ready is closed once the certificate files have been written.
func (r *Rotator) Ready() <-chan struct{} { return r.ready }

// Check is a healthz.Checker for the manager's readyz endpoint: a replica
// without certificate files must not receive admission requests.
func (r *Rotator) Check(*http.Request) error {
	select {
	case <-r.ready:
		return nil
	default:
		return ErrNotReady
	}
}

// sync runs one round, again at once if it lost a race with another
// replica over the Secret or a webhook configuration.
func (r *Rotator) sync(ctx context.Context) (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const attempts = 3
	var err error
	for range attempts {
		var next time.Time
		next, err = r.syncOnce(ctx)
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			return next, err
		}
		r.log.V(1).Info("another replica changed the certificates first; reading again", "reason", err.Error())
	}
	return time.Time{}, err
}

// syncOnce brings the Secret up to date, writes the files from it and
// patches the caBundles. The webhook configurations are read before the
// Secret; see patchCABundles for why.
func (r *Rotator) syncOnce(ctx context.Context) (time.Time, error) {
	configs, err := r.webhookConfigs(ctx)
	if err != nil {
		return time.Time{}, err
	}
	secret := &corev1.Secret{}
	exists := true
	if err := r.reader.Get(ctx, r.secretKey(), secret); apierrors.IsNotFound(err) {
		exists = false
	} else if err != nil {
		return time.Time{}, fmt.Errorf("get secret %s: %w", r.secretKey(), err)
	}
	cur, problems := stateFromSecret(secret.Data)
	for _, p := range problems {
		r.log.Error(p, "unreadable entry in the certificate Secret; replacing it", "secret", r.secretKey())
	}

	now := r.opts.Now()
	state, reasons, err := plan(cur, now, r.policy, trusts(configs, cur.NextCA))
	if err != nil {
		return time.Time{}, fmt.Errorf("secret %s: %w", r.secretKey(), err)
	}
	if len(reasons) > 0 {
		if err := r.writeSecret(ctx, secret, exists, state); err != nil {
			return time.Time{}, err
		}
		r.log.Info("webhook certificates updated", "secret", r.secretKey(), "reasons", reasons,
			"serial", state.Serving.Cert.SerialNumber.Text(16), "notAfter", state.Serving.Cert.NotAfter)
	}

	changed, err := writePair(r.opts.CertDir, r.opts.CertName, r.opts.KeyName, state.Serving.CertPEM, state.Serving.KeyPEM)
	if err != nil {
		return time.Time{}, fmt.Errorf("write certificate files to %s: %w", r.opts.CertDir, err)
	}
	if changed {
		r.log.Info("webhook certificate files written", "dir", r.opts.CertDir,
			"serial", state.Serving.Cert.SerialNumber.Text(16))
	}
	r.readyOnce.Do(func() { close(r.ready) })

	if err := r.patchCABundles(ctx, configs, state.Bundle()); err != nil {
		return time.Time{}, err
	}
	return nextEvent(state, now, r.policy), nil
}

// writeSecret stores state, creating the Secret or updating the version
// that was read, so that of two replicas racing only one wins.
func (r *Rotator) writeSecret(ctx context.Context, secret *corev1.Secret, exists bool, state State) error {
	secret.Data = state.data()
	if exists {
		if err := r.client.Update(ctx, secret); err != nil {
			return fmt.Errorf("update secret %s: %w", r.secretKey(), err)
		}
		return nil
	}
	secret.ObjectMeta = metav1.ObjectMeta{
		Namespace: r.opts.SecretNamespace,
		Name:      r.opts.SecretName,
		Labels:    map[string]string{"app.kubernetes.io/managed-by": "herald"},
	}
	secret.Type = corev1.SecretTypeTLS
	if err := r.client.Create(ctx, secret); err != nil {
		return fmt.Errorf("create secret %s: %w", r.secretKey(), err)
	}
	return nil
}

func (r *Rotator) secretKey() client.ObjectKey {
	return client.ObjectKey{Namespace: r.opts.SecretNamespace, Name: r.opts.SecretName}
}

// trusts reports whether every webhook of the configurations has next in
// its caBundle; true when there is no next CA or no configuration.
func trusts(configs []client.Object, next *KeyPair) bool {
	if next == nil {
		return true
	}
	for _, obj := range configs {
		for _, b := range caBundles(obj) {
			if !bundleHas(b, next.Cert) {
				return false
			}
		}
	}
	return true
}
