package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/herald-lb/herald/internal/metallbmigrate"
)

// migrateCommand is the subcommand that prints a MetalLB configuration as
// Herald objects; it talks to no cluster.
const migrateCommand = "migrate-metallb"

// migrateMetalLB runs `herald-controller migrate-metallb [flags] FILE...`
// and returns the exit code: 2 for usage errors, 1 for bad input.
func migrateMetalLB(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(migrateCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts metallbmigrate.Options
	fs.StringVar(&opts.Layer2Interface, "layer2-interface", "",
		"spec.interface of layer2 Eips whose MetalLB configuration names no single interface (a name, or can_reach:<ip>)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: herald-controller %s [flags] FILE... (- for standard input)\n\n"+
			"Reads a MetalLB configuration - the classic ConfigMap metallb-system/config, or the metallb.io\n"+
			"resources (kubectl get -n metallb-system ipaddresspools,bgppeers,bgpadvertisements,\n"+
			"l2advertisements,communities,bfdprofiles -o yaml) - and prints the equivalent Herald Eips,\n"+
			"BgpConf and BgpPeers, with a comment above each object on what was not carried over.\n\n", migrateCommand)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var inputs []metallbmigrate.Input
	for _, name := range fs.Args() {
		if name == "-" {
			inputs = append(inputs, metallbmigrate.Input{Name: "standard input", R: stdin})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", migrateCommand, err)
			return 1
		}
		defer f.Close()
		inputs = append(inputs, metallbmigrate.Input{Name: name, R: f})
	}
	res, err := metallbmigrate.Convert(opts, inputs...)
	if err == nil {
		var out []byte
		if out, err = res.YAML(); err == nil {
			_, err = stdout.Write(out)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", migrateCommand, err)
		return 1
	}
	return 0
}
