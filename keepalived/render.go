package keepalived

import (
	"bytes"
	_ "embed"
	"fmt"
	"text/template"
)

//go:embed keepalived.conf.tmpl
var confTemplate string

// conf is parsed once; a template error is a bug caught by every test.
var conf = template.Must(template.New("keepalived.conf").Option("missingkey=error").Parse(confTemplate))

// Render writes this node's keepalived.conf: global_defs, then one
// vrrp_instance per VIP whose participants include this node (and a
// track_file before each externalTrafficPolicy Local one), sorted by family
// then address. The output depends only on c, so every render of the same
// cluster state is byte-for-byte equal and the supervisor reloads only on
// real change.
//
// Instances start as BACKUP (keepalived starts new instances as BACKUP
// whatever they say, but for OwnerPriority): a node that restarts must not
// claim an address before it has heard the others, except the VIP's
// first-ranked node, which would take it back from any other anyway
// (OwnerPriority). Render refuses the whole config
// (nil, an error naming every bad VIP, wrapping ErrInvalidConfig) rather
// than drop a VIP, so that keepalived keeps its last good configuration.
func Render(c Config) ([]byte, error) {
	v, err := buildView(c)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := conf.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render keepalived.conf: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
