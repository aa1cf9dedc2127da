package bgpconfig

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/community"
)

// validateCommunities checks BgpConf's community aliases: each name a DNS
// label (so it can never be mistaken for a community in numbers, which has
// a ':') that is not a well-known name, said once; each value a standard
// or large community in numbers, never another name, so an alias resolves
// in one step.
func validateCommunities(path *field.Path, aliases []v1alpha2.CommunityAlias) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]int{}
	for i, a := range aliases {
		p := path.Index(i)
		if j, dup := seen[a.Name]; dup {
			errs = append(errs, field.Duplicate(p.Child("name"), a.Name))
			errs[len(errs)-1].Detail = fmt.Sprintf("already defined by %s; give each alias one entry", path.Index(j).Child("name"))
		} else {
			seen[a.Name] = i
		}
		if _, ok := community.WellKnown(a.Name); ok {
			errs = append(errs, field.Invalid(p.Child("name"), a.Name,
				"is a well-known community name and always means its IANA value; pick another name"))
		} else if msgs := validation.IsDNS1123Label(a.Name); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("name"), a.Name,
				"not an alias name: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. no-advertise-upstream)"))
		}
		if _, err := community.ParseValue(a.Value); err != nil {
			errs = append(errs, field.Invalid(p.Child("value"), a.Value,
				fmt.Sprintf("%v; an alias stands for a community in numbers: standard 65535:65282 or large large:64512:1:2", err)))
		}
	}
	return errs
}

// Aliases returns a BgpConf's community aliases by name, as
// community.Parse takes them; empty for a nil BgpConf. Entries whose value
// does not parse are left out, so they read as unknown.
func Aliases(c *v1alpha2.BgpConf) map[string]string {
	out := map[string]string{}
	if c == nil {
		return out
	}
	for _, a := range c.Spec.Communities {
		if _, err := community.ParseValue(a.Value); err == nil {
			out[a.Name] = a.Value
		}
	}
	return out
}
