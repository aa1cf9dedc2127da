package certs

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Setup wires a Rotator into a manager that has not started yet: it takes
// the certificate directory and file names from the manager's webhook
// server when opts leaves them empty, writes the files (Bootstrap), adds
// the Rotator as a runnable and registers its readiness check as
// "webhook-certs". ctx bounds Bootstrap only.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) (*Rotator, error) {
	if srv, ok := mgr.GetWebhookServer().(*webhook.DefaultServer); ok {
		def := func(s *string, v string) {
			if *s == "" {
				*s = v
			}
		}
		def(&opts.CertDir, srv.Options.CertDir)
		def(&opts.CertName, srv.Options.CertName)
		def(&opts.KeyName, srv.Options.KeyName)
	}
	r, err := New(opts, mgr.GetClient(), mgr.GetAPIReader(), mgr.GetLogger().WithName("webhook-certs"))
	if err != nil {
		return nil, err
	}
	if err := r.Bootstrap(ctx); err != nil {
		return nil, err
	}
	if err := mgr.Add(r); err != nil {
		return nil, fmt.Errorf("webhook certificates: add to manager: %w", err)
	}
	if err := mgr.AddReadyzCheck("webhook-certs", r.Check); err != nil {
		return nil, fmt.Errorf("webhook certificates: add readiness check: %w", err)
	}
	return r, nil
}
