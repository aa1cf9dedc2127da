package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// server serves /metrics and /healthz; /healthz is ok while the
// supervisor runs.
type server struct {
	healthy atomic.Bool
	http    *http.Server
}

// serve listens on addr at once, so a taken port fails the start rather
// than go unnoticed; "0" serves nothing.
func serve(addr string, reg *prometheus.Registry, log logr.Logger) (*server, error) {
	s := &server{}
	if addr == "0" {
		return s, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.healthy.Load() {
			http.Error(w, "keepalived supervisor not running", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// The supervisor keeps running without its endpoint: VIPs
			// matter more than metrics.
			log.Error(err, "metrics endpoint stopped")
		}
	}()
	return s, nil
}

func (s *server) close() {
	if s.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
}
