package bgpconfig

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func TestValidateConfCommunities(t *testing.T) {
	tests := []struct {
		name        string
		communities string // spec.communities, YAML
		want        verdict
	}{{
		name:        "standard and large aliases",
		communities: `[{name: no-advertise-upstream, value: "65535:65282"}, {name: big, value: "large:4200000000:1:2"}]`,
	}, {
		name:        "name used twice",
		communities: `[{name: up, value: "1:1"}, {name: up, value: "1:2"}]`,
		want:        verdict{errs: []string{"spec.communities[1].name: Duplicate value"}, phrase: "already defined by spec.communities[0].name"},
	}, {
		name:        "well-known name",
		communities: `[{name: no-export, value: "64512:1"}]`,
		want:        verdict{errs: []string{"spec.communities[0].name: Invalid value"}, phrase: "is a well-known community name"},
	}, {
		name:        "name with capitals and a colon",
		communities: `[{name: "Up:1", value: "64512:1"}]`,
		want:        verdict{errs: []string{"spec.communities[0].name: Invalid value"}, phrase: "not an alias name"},
	}, {
		name:        "value out of range",
		communities: `[{name: up, value: "70000:1"}]`,
		want:        verdict{errs: []string{"spec.communities[0].value: Invalid value"}, phrase: "an alias stands for a community in numbers"},
	}, {
		name:        "value is another alias",
		communities: `[{name: up, value: "64512:1"}, {name: up2, value: up}]`,
		want:        verdict{errs: []string{"spec.communities[1].value: Invalid value"}, phrase: "an alias stands for a community in numbers"},
	}, {
		name:        "value is a well-known name",
		communities: `[{name: up, value: no-export}]`,
		want:        verdict{errs: []string{"spec.communities[0].value: Invalid value"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c v1alpha2.BgpConf
			if err := yaml.UnmarshalStrict([]byte(`{metadata: {name: default}, spec: {as: 64512, communities: `+tt.communities+`}}`), &c); err != nil {
				t.Fatalf("test manifest: %v", err)
			}
			warnings, errs := ValidateConf(&c)
			check(t, tt.want, warnings, errs)
		})
	}
}

func TestAliases(t *testing.T) {
	c := &v1alpha2.BgpConf{Spec: v1alpha2.BgpConfSpec{Communities: []v1alpha2.CommunityAlias{
		{Name: "up", Value: "64512:1"}, {Name: "bad", Value: "x"}, {Name: "big", Value: "large:1:2:3"},
	}}}
	want := map[string]string{"up": "64512:1", "big": "large:1:2:3"}
	if diff := cmp.Diff(want, Aliases(c)); diff != "" {
		t.Errorf("Aliases (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{}, Aliases(nil)); diff != "" {
		t.Errorf("Aliases(nil) (-want +got):\n%s", diff)
	}
}
