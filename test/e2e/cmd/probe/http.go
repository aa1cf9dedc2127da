package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// probeHTTP GETs url every interval until ctx ends, each request on a new
// TCP connection (a kept-alive one would stay pinned to the conntrack
// entry of the node that first forwarded it) and in its own goroutine, so
// that a probe lost in an outage does not delay the next. Requests still
// in flight when ctx ends run to their own timeout: cut off, they would be
// logged as failures the network never caused.
func probeHTTP(ctx context.Context, out *lines, url string, interval, timeout time.Duration) error {
	reqCtx := context.WithoutCancel(ctx)
	hc := &http.Client{
		Transport: &http.Transport{
			Proxy:             nil, // never the environment's proxy: the target is in the testbed
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{}).DialContext,
		},
		Timeout: timeout,
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	out.ready()
	for {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			body, err := get(reqCtx, hc, url)
			done := time.Now()
			if err != nil {
				out.printf("%d %d fail %s", sent.UnixNano(), done.UnixNano(), oneLine(err.Error()))
				return
			}
			out.printf("%d %d ok %s", sent.UnixNano(), done.UnixNano(), oneLine(body))
		}()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func get(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(body), nil
}

// oneLine keeps an observation on its line: the test parses the log by
// lines and fields.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), "_")
	if s == "" {
		return "-"
	}
	return s
}
