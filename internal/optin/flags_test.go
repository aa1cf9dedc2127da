package optin

import (
	"flag"
	"io"
	"testing"
)

func TestBindFlags(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    Policy
		wantErr bool
	}{
		{"nothing set: both off", nil, nil, Policy{}, false},
		{"from the environment", map[string]string{EnvMetalLBAnnotations: "true", EnvClasslessServices: "1"}, nil,
			Policy{MetalLBAnnotations: true, ClasslessServices: true}, false},
		{"flags win over the environment", map[string]string{EnvMetalLBAnnotations: "true"}, []string{"--metallb-annotations=false", "--classless-services"},
			Policy{ClasslessServices: true}, false},
		{"empty value is off", map[string]string{EnvClasslessServices: " "}, nil, Policy{}, false},
		{"a typo is an error", map[string]string{EnvClasslessServices: "yes"}, nil, Policy{}, true},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var p Policy
		err := BindFlags(fs, &p, func(k string) string { return tt.env[k] })
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: BindFlags error %v, want error %v", tt.name, err, tt.wantErr)
		}
		if err := fs.Parse(tt.args); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if p != tt.want {
			t.Errorf("%s: policy %+v, want %+v", tt.name, p, tt.want)
		}
	}
}
