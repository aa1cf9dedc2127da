package speaker

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// recordingReader reads through to the API server and records the keys
// it was asked for.
type recordingReader struct {
	client.Reader
	mu   sync.Mutex
	gets []client.ObjectKey
}

func (r *recordingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.mu.Lock()
	r.gets = append(r.gets, key)
	r.mu.Unlock()
	return r.Reader.Get(ctx, key, obj, opts...)
}

// TestPeerSecretOnlyInOwnNamespace: the speaker may read Secrets in its
// own namespace only. A BgpPeer naming a Secret elsewhere (created while
// the webhook was down) gets a problem in its status and the peer is not
// started, without the speaker even asking the API server; a reference
// without a namespace reads the speaker's own.
func TestPeerSecretOnlyInOwnNamespace(t *testing.T) {
	ctx := context.Background()
	for _, ns := range []string{"lb-system", "lb-tenant"} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tor-md5"},
			Data: map[string][]byte{"password": []byte("pw-" + ns)}})
	}
	reader := &recordingReader{Reader: env.Client}
	router := &fakeRouter{}
	m := &BGPMode{Node: "node1", Namespace: "lb-system", Router: router, Secrets: reader}

	peer := func(name, address, ns string) v1alpha2.BgpPeer {
		return v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha2.BgpPeerSpec{
			Conf: &v1alpha2.PeerConf{PeerAs: 65001, NeighborAddress: address,
				AuthPasswordSecretRef: &v1alpha2.SecretKeyRef{Namespace: ns, Name: "tor-md5"}}}}
	}
	snap := Snapshot{
		Node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}, Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.99.0.11"}}}},
		BgpConf: &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName},
			Spec: v1alpha2.BgpConfSpec{As: 64512}},
		BgpPeers: []v1alpha2.BgpPeer{
			peer("own", "10.99.0.1", "lb-system"),
			peer("implicit", "10.99.0.2", ""),
			peer("foreign", "10.99.0.3", "lb-tenant"),
		},
	}
	if err := m.Apply(ctx, snap, Desired{}); err != nil {
		t.Fatal(err)
	}

	cfg, _ := router.state()
	passwords := map[string]string{}
	for _, p := range cfg.Peers {
		passwords[p.Name] = p.Password
	}
	for _, name := range []string{"own", "implicit"} {
		if passwords[name] != "pw-lb-system" {
			t.Errorf("peer %s: password %q, want the one in lb-system", name, passwords[name])
		}
	}
	if _, ok := passwords["foreign"]; ok {
		t.Errorf("peer foreign runs with a Secret outside the speaker's namespace")
	}
	problems := strings.Join(cfg.PeerProblems["foreign"], "; ")
	if !strings.Contains(problems, "lb-tenant") || !strings.Contains(problems, "only in namespace lb-system") {
		t.Errorf("peer foreign: problems %q; want one saying the Secret must be in lb-system", problems)
	}
	reader.mu.Lock()
	defer reader.mu.Unlock()
	if slices.ContainsFunc(reader.gets, func(k client.ObjectKey) bool { return k.Namespace != "lb-system" }) {
		t.Errorf("the speaker asked the API server for %v; want Secrets in lb-system only", reader.gets)
	}
}
