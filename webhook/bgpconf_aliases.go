package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// aliasesInUse refuses an update of BgpConf "default" that removes (or
// renames) a community alias some Eip's bgpAdvertisements still name: the
// Eip was admitted with it, and the speakers would drop the community from
// its routes without a word. Changing an alias's value is admitted; that
// is what aliases are for. Another BgpConf than "default" defines nothing.
func (v BgpConfValidator) aliasesInUse(ctx context.Context, oldConf, newConf *v1alpha2.BgpConf) (field.ErrorList, error) {
	if newConf.Name != v1alpha2.BgpConfName || v.Reader == nil {
		return nil, nil
	}
	kept := map[string]bool{}
	for _, a := range newConf.Spec.Communities {
		kept[a.Name] = true
	}
	var removed []string
	for _, a := range oldConf.Spec.Communities {
		if !kept[a.Name] {
			removed = append(removed, a.Name)
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	var eips v1alpha2.EipList
	if err := v.Reader.List(ctx, &eips); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("bgpconf %q: list Eips to find the community aliases in use: %w", newConf.Name, err))
	}
	users := aliasUsers(removed, eips.Items)
	var errs field.ErrorList
	for _, name := range removed {
		if len(users[name]) == 0 {
			continue
		}
		errs = append(errs, field.Forbidden(field.NewPath("spec", "communities"), fmt.Sprintf(
			"alias %q is still used by %s; remove it from their spec.bgpAdvertisements[].communities first (or write its value there), then from here",
			name, strings.Join(users[name], ", "))))
	}
	return errs, nil
}

// aliasUsers maps each alias name to the places that use it, as
// `Eip "web" (spec.bgpAdvertisements[0].communities[1])`, sorted.
func aliasUsers(names []string, eips []v1alpha2.Eip) map[string][]string {
	users := map[string][]string{}
	for _, e := range eips {
		for i, a := range e.Spec.BgpAdvertisements {
			for j, c := range a.Communities {
				if slices.Contains(names, c) {
					users[c] = append(users[c], fmt.Sprintf("Eip %q (%s)", e.Name,
						field.NewPath("spec", "bgpAdvertisements").Index(i).Child("communities").Index(j)))
				}
			}
		}
	}
	for _, u := range users {
		slices.Sort(u)
	}
	return users
}
