package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

// VIP mode writes one annotation on Services, the holder, and events about
// it: the same grants Layer2's owner annotation needs (repeated here so
// that each mode states its own), and the release's
// ValidatingAdmissionPolicy lets the speaker change exactly those two
// annotations (config/speaker/service_policy.yaml).
// +kubebuilder:rbac:groups="",resources=services,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// VIP mode's event reasons on Services.
const (
	// ReasonVIPHolder: this node's keepalived holds the address now.
	ReasonVIPHolder = "VIPHolder"
)

// DefaultVIPHolderRewrite is vipHolders.rewrite's default.
const DefaultVIPHolderRewrite = 30 * time.Second

// vipHolders writes the holder annotation (v1alpha2.AnnotationVIPHolder)
// on the Services of the VIPs this node's keepalived reports MASTER, and
// an event for each change. Only a master writes, so there is one writer
// per address, as with Layer2's owner annotation; nothing is written for
// BACKUP or FAULT: the node that becomes master writes.
//
// A Service is patched at most once per rewrite interval while its VIP is
// master here. That covers two cases. The cache has not caught up with
// the patch yet, so the snapshot still shows the old value: writing again
// would be the same write twice. And two nodes are master at once (VRRP
// adverts lost between them while both reach the API server): each would
// otherwise overwrite the other's annotation on every update it is woken
// by, an endless loop of writes; with the interval it costs two writes
// per Service per interval, and the events show the split brain. The
// memory of a VIP is forgotten as soon as it is not master here, so a
// node that becomes master again writes at once; a flap between two polls
// of the state file is repaired at the first reconcile after the interval
// (a resync at the latest).
type vipHolders struct {
	// rewrite is the interval; 0 means DefaultVIPHolderRewrite.
	rewrite time.Duration
	// now is the clock; nil means time.Now.
	now func() time.Time

	// mu guards written; a leaf.
	mu sync.Mutex
	// written is when each Service ("namespace/name") was last patched
	// while its VIP is master here.
	written map[string]time.Time
}

// holderTodo is one Service whose annotation this node writes.
type holderTodo struct {
	service string
	addr    netip.Addr
	was     string
}

// due returns the Services of claims whose VIP states reports MASTER and
// whose annotation (from annotated, by Service) does not name node yet,
// unless patched within the rewrite interval; it forgets the Services of
// VIPs that are not master here.
func (h *vipHolders) due(node string, claims []VIPClaim, states vipdir.States, annotated map[string]string) []holderTodo {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	rewrite := h.rewrite
	if rewrite <= 0 {
		rewrite = DefaultVIPHolderRewrite
	}
	master := map[string]bool{}
	var todo []holderTodo
	for _, c := range claims {
		if states[c.Addr.Unmap()] != keepalived.StateMaster {
			continue
		}
		for _, svc := range c.Services {
			master[svc] = true
			if annotated[svc] == node {
				continue
			}
			if at, ok := h.written[svc]; ok && now().Sub(at) < rewrite {
				continue // written; not seen yet, or another master wrote since
			}
			todo = append(todo, holderTodo{service: svc, addr: c.Addr, was: annotated[svc]})
		}
	}
	for svc := range h.written {
		if !master[svc] {
			delete(h.written, svc)
		}
	}
	return todo
}

// wrote records a patch of svc.
func (h *vipHolders) wrote(svc string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.written == nil {
		h.written = map[string]time.Time{}
	}
	if h.now != nil {
		h.written[svc] = h.now()
	} else {
		h.written[svc] = time.Now()
	}
}

// annotateHolders writes the holder annotation of node on the Services of
// the VIPs states reports MASTER, with a merge patch of that annotation
// alone (the only one, with Layer2's owner, the speaker may change), and
// records an event on each.
func annotateHolders(ctx context.Context, c client.Client, rec events.EventRecorder, log logr.Logger,
	h *vipHolders, node string, snap Snapshot, claims []VIPClaim, states vipdir.States,
) error {
	if c == nil || len(claims) == 0 {
		return nil
	}
	annotated := make(map[string]string, len(snap.Services))
	for _, s := range snap.Services {
		if s.VIPHolder != "" {
			annotated[s.Key] = s.VIPHolder
		}
	}
	var errs []error
	for _, t := range h.due(node, claims, states, annotated) {
		ns, name, _ := strings.Cut(t.service, "/")
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, v1alpha2.AnnotationVIPHolder, node)
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if err := c.Patch(ctx, svc, client.RawPatch(types.MergePatchType, patch)); err != nil {
			if apierrors.IsNotFound(err) {
				// Deleted since the snapshot; its deletion triggers the
				// next reconcile.
				log.V(1).Info("service gone before its vip holder annotation was written", "service", t.service)
				continue
			}
			errs = append(errs, fmt.Errorf("service %s: annotate vip holder: %w", t.service, err))
			continue
		}
		h.wrote(t.service)
		log.V(1).Info("vip holder annotation written", "service", t.service, "ip", t.addr.String(), "was", t.was)
		if rec != nil {
			rec.Eventf(svc, nil, corev1.EventTypeNormal, ReasonVIPHolder, "Hold", "%s holds %s (VRRP master)", node, t.addr)
		}
	}
	return errors.Join(errs...)
}
