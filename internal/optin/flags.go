package optin

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// Environment variables the manifests fill from the herald-config
// ConfigMap's keys of the same settings, in both the controller's
// Deployment and the speakers' DaemonSet, so that one setting reaches both
// binaries: the controller allocates and the speakers announce the same
// Services.
const (
	EnvMetalLBAnnotations = "HERALD_METALLB_ANNOTATIONS"
	EnvClasslessServices  = "HERALD_CLASSLESS_SERVICES"
)

// BindFlags registers --metallb-annotations and --classless-services on
// fs, writing into p, with defaults from getenv (os.Getenv in the mains).
// It fails on an environment value that is not a boolean, rather than
// take a typo in the ConfigMap for "off".
func BindFlags(fs *flag.FlagSet, p *Policy, getenv func(string) string) error {
	annotations, err1 := envBool(getenv, EnvMetalLBAnnotations)
	classless, err2 := envBool(getenv, EnvClasslessServices)
	fs.BoolVar(&p.MetalLBAnnotations, SettingMetalLBAnnotations, annotations,
		"serve class-less LoadBalancer Services with MetalLB's annotations (metallb.io/ or metallb.universe.tf/ address-pool, loadBalancerIPs, allow-shared-ip) and read those annotations; defaults to $"+EnvMetalLBAnnotations+" (herald-config's "+SettingMetalLBAnnotations+")")
	fs.BoolVar(&p.ClasslessServices, SettingClasslessServices, classless,
		"serve every class-less LoadBalancer Service, as MetalLB does; defaults to $"+EnvClasslessServices+" (herald-config's "+SettingClasslessServices+")")
	if err1 != nil {
		return err1
	}
	return err2
}

func envBool(getenv func(string) string, name string) (bool, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("environment %s=%q: want true or false: %w", name, v, err)
	}
	return b, nil
}
