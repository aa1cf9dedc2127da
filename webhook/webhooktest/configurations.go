package webhooktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/webhook/certs"
)

// Configurations returns the release's admission webhook configurations
// (config/webhook, under the names the release gives them, so that the
// controller's caBundle rotation finds them by its defaults) with every
// webhook calling base+path by URL instead of the webhook Service: for
// test clusters where the API server reaches the webhook server at an
// address (base is "https://127.0.0.1:<port>"), not through a Service.
func Configurations(base string) ([]client.Object, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, fmt.Errorf("webhooktest: %w", err)
	}
	path := filepath.Join(root, "config", "webhook", "manifests.yaml")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("webhooktest: %w", err)
	}
	defer f.Close()
	var objs []client.Object
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var data json.RawMessage
		if err := dec.Decode(&data); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("webhooktest: %s: %w", path, err)
		}
		var meta metav1.TypeMeta
		if err := json.Unmarshal(data, &meta); err != nil {
			return nil, fmt.Errorf("webhooktest: %s: %w", path, err)
		}
		switch meta.Kind {
		case "":
			continue
		case "ValidatingWebhookConfiguration":
			v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := json.Unmarshal(data, v); err != nil {
				return nil, fmt.Errorf("webhooktest: %s: %w", path, err)
			}
			v.Name = certs.DefaultValidatingWebhook
			for i := range v.Webhooks {
				v.Webhooks[i].ClientConfig = urlConfig(base, v.Webhooks[i].ClientConfig)
			}
			objs = append(objs, v)
		case "MutatingWebhookConfiguration":
			m := &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := json.Unmarshal(data, m); err != nil {
				return nil, fmt.Errorf("webhooktest: %s: %w", path, err)
			}
			m.Name = certs.DefaultMutatingWebhook
			for i := range m.Webhooks {
				m.Webhooks[i].ClientConfig = urlConfig(base, m.Webhooks[i].ClientConfig)
			}
			objs = append(objs, m)
		default:
			return nil, fmt.Errorf("webhooktest: %s: unexpected kind %q", path, meta.Kind)
		}
	}
}

// urlConfig replaces a Service reference by the URL of its path on base.
func urlConfig(base string, cc admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.WebhookClientConfig {
	path := ""
	if cc.Service != nil && cc.Service.Path != nil {
		path = *cc.Service.Path
	}
	url := base + path
	return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: cc.CABundle}
}
