// Command herald-keepalived is the entrypoint of Herald's VIP DaemonSet
// (hostNetwork, NET_ADMIN and NET_RAW, updateStrategy OnDelete, so a
// speaker crash or upgrade moves no VIP): it runs keepalived on the
// configuration the speaker renders and reports VRRP states back, through a
// host directory it shares with the speaker (--dir, default
// /run/herald/keepalived, the one keepalived.DefaultSettings renders into;
// package vipdir is the contract):
//
//	keepalived.conf.candidate  in: rendered by the speaker (temp + rename),
//	                           checked every --poll-interval
//	keepalived.conf            the live config, installed only after
//	                           `keepalived -t` accepted the exact bytes
//	track/                     created here; the speaker writes track files
//	notify.fifo                keepalived's notify_fifo, created here
//	state.json                 out: {"vips": {"<addr>": "MASTER|BACKUP|FAULT|STOP"}},
//	                           rewritten atomically on every change
//	config.json                out: {"live": "<sha256>", "refused": "<sha256>",
//	                           "error": "<keepalived -t's words>"}: the config
//	                           installed and the last candidate refused (empty
//	                           once a later one is accepted), rewritten
//	                           atomically at start and on every change, so the
//	                           speaker can tell its config was refused
//
// keepalived's pid files go to a private directory (--run-dir), never the
// shared one: a pid file left by a previous container names a pid the next
// one may reuse, and keepalived would refuse to start as "already running".
//
// SIGTERM or SIGINT stops keepalived gracefully (priority-0 adverts: a
// backup takes over within ~0.6 s, a planned hand-over) and exits 0.
// keepalived never outlives this process: killed outright, it takes
// keepalived along (parent-death signal, keepalived.Exec). When keepalived
// itself is killed, the VIPs it left on their interfaces are removed
// before it is restarted, and at start those of the live config a previous
// run left (exact /32 and /128 matches only; each removal is logged).
// /metrics and /healthz (ok while keepalived is supervised) are served on
// --metrics-bind-address.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

type flags struct {
	dir, runDir, binary, metricsAddr string
	poll, stopGrace                  time.Duration
}

func parseFlags() flags {
	var f flags
	flag.StringVar(&f.dir, "dir", vipdir.DefaultDir,
		"host directory shared with the speaker: "+vipdir.CandidateName+" in, "+vipdir.LiveName+", "+vipdir.TrackName+"/, "+vipdir.FIFOName+", "+vipdir.StateName+" and "+vipdir.ConfigName)
	flag.StringVar(&f.runDir, "run-dir", "", "private directory for keepalived's pid files; empty means a fresh temporary one, removed on exit")
	flag.StringVar(&f.binary, "keepalived", "/usr/sbin/keepalived", "keepalived binary")
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", ":7474", "address of /metrics and /healthz; 0 disables them")
	// A new VIP waits for this poll (keepalived itself then takes
	// milliseconds, see keepalived.OwnerPriority); a poll is one stat.
	flag.DurationVar(&f.poll, "poll-interval", 200*time.Millisecond, "how often "+vipdir.CandidateName+" is checked for a change (a new VIP waits for it)")
	flag.DurationVar(&f.stopGrace, "stop-grace", 10*time.Second, "how long keepalived may take to stop after SIGTERM before it is killed; keep it below the pod's terminationGracePeriodSeconds")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	return f
}

func main() {
	f := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := run(ctx, f, ctrl.Log.WithName("keepalived"))
	stop()
	if err != nil {
		ctrl.Log.Error(err, "herald-keepalived failed")
		os.Exit(1)
	}
}

func (f flags) validate() error {
	var errs []error
	if f.dir == "" {
		errs = append(errs, errors.New("--dir: empty"))
	}
	if f.poll <= 0 {
		errs = append(errs, fmt.Errorf("--poll-interval %v: must be positive", f.poll))
	}
	if f.stopGrace <= 0 {
		errs = append(errs, fmt.Errorf("--stop-grace %v: must be positive", f.stopGrace))
	}
	if flag.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", flag.Args()))
	}
	return errors.Join(errs...)
}

func run(ctx context.Context, f flags, log logr.Logger) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("bad flags: %w", err)
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return fmt.Errorf("directory %s: %w", f.dir, err)
	}
	runDir := f.runDir
	if runDir == "" {
		d, err := os.MkdirTemp("", "herald-keepalived-")
		if err != nil {
			return fmt.Errorf("run directory: %w", err)
		}
		defer os.RemoveAll(d)
		runDir = d
	}
	// A fresh keepalived reports every instance anew; what a previous run
	// wrote must not claim VIPs meanwhile. This also proves --dir writable.
	dir := vipdir.Dir(f.dir)
	state := &vipdir.Recorder{Path: dir.State()}
	if err := state.Reset(); err != nil {
		return fmt.Errorf("directory %s: %w", f.dir, err)
	}
	fifo, err := keepalived.OpenNotifyFIFO(dir.FIFO())
	if err != nil {
		return err
	}
	defer fifo.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := keepalived.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	srv, err := serve(f.metricsAddr, reg, log)
	if err != nil {
		return err
	}
	defer srv.close()

	rep := &reporter{metrics: m, state: state, configPath: dir.ConfigStatus(), log: log}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		rep.readStates(fifo)
	}()

	ka := keepalived.Exec{Binary: f.binary, RunDir: runDir, StopGrace: f.stopGrace, Output: os.Stderr}
	sup := &keepalived.Supervisor{
		Candidate: dir.Candidate(),
		Live:      dir.Live(),
		TrackDir:  dir.Track(),
		Start:     ka.Start,
		Check:     ka.Check,
		Addresses: keepalived.NetlinkAddresses{},
		Changed:   keepalived.PollChanges(ctx, dir.Candidate(), f.poll),
		Report:    rep.event,
		Verdicts:  rep.verdict,
	}
	log.Info("starting", "dir", f.dir, "keepalived", f.binary, "runDir", runDir)
	srv.healthy.Store(true)
	err = sup.Run(ctx)
	srv.healthy.Store(false)
	// keepalived is gone: take what it wrote last, then stop reading.
	drainFIFO(fifo)
	readers.Wait()
	rep.stopped()
	if err != nil {
		return fmt.Errorf("supervise keepalived: %w", err)
	}
	log.Info("stopped")
	return nil
}
