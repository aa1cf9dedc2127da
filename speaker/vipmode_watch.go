package speaker

import (
	"maps"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// eipChanged passes Eip events that change what the speaker reads: the
// spec (a new generation) or the VRIDs the controller assigned in the
// status (status.vrids), which VIP mode renders. Other status changes,
// above all status.used on every allocation, wake no speaker.
var eipChanged = predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok1 := e.ObjectOld.(*v1alpha2.Eip)
		cur, ok2 := e.ObjectNew.(*v1alpha2.Eip)
		return ok1 && ok2 && !maps.Equal(old.Status.VRIDs, cur.Status.VRIDs)
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
})
