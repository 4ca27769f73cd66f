/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command cvm-emulator serves a local Tencent Cloud CVM API (2017-03-12) for the image sharing
// actions, for tests, the demo and benchmarks. See docs/emulator.md.
//
//	cvm-emulator --listen 127.0.0.1:9000 --seed seed.yaml [--share-limit N] [--sync-seconds N]
//	             [--qps N] [--error-rate R] [--latency D] [--copy-visibility-delay D] [--share-fail-rate R]
//
// Once it listens it prints exactly "listening on ADDR" on stdout, ADDR being the bound address,
// so that --listen 127.0.0.1:0 can be used. SIGINT or SIGTERM shut it down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], os.Stdout, logger); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		logger.Error("Emulator failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. It is main without the process around it, for tests.
func run(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("cvm-emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9000", "address to listen on (host:port; port 0 picks a free port)")
	seedPath := fs.String("seed", "", "seed YAML file (contract §5); without it the cloud starts empty")
	shareLimit := fs.Int("share-limit", 0, "override the seed's shareLimit")
	syncSeconds := fs.Int("sync-seconds", 0, "override the seed's syncSeconds")
	qps := fs.Float64("qps", 0, "override the seed's faults.qps (calls per second per account and action; 0 = off)")
	errorRate := fs.Float64("error-rate", 0, "override the seed's faults.errorRate (0 to 1)")
	latency := fs.Duration("latency", 0, "override the seed's faults.latency (e.g. 50ms)")
	copyVisibilityDelay := fs.Duration("copy-visibility-delay", 0,
		"override the seed's faults.copyVisibilityDelay (how long a new SyncImages copy stays unlisted, e.g. 3s)")
	shareFailRate := fs.Float64("share-fail-rate", 0,
		"override the seed's faults.shareFailRate (0 to 1; SHARE/CANCEL fails with FailedOperation.QImageShareFailed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	seed := &emulator.Seed{}
	if *seedPath != "" {
		var err error
		if seed, err = emulator.LoadSeed(*seedPath); err != nil {
			return err
		}
	}
	// Only flags given on the command line override the seed.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "share-limit":
			seed.ShareLimit = *shareLimit
		case "sync-seconds":
			seed.SyncSeconds = syncSeconds
		case "qps":
			seed.Faults.QPS = *qps
		case "error-rate":
			seed.Faults.ErrorRate = *errorRate
		case "latency":
			seed.Faults.Latency = *latency
		case "copy-visibility-delay":
			seed.Faults.CopyVisibilityDelay = *copyVisibilityDelay
		case "share-fail-rate":
			seed.Faults.ShareFailRate = *shareFailRate
		}
	})
	emu, err := emulator.New(seed)
	if err != nil {
		return err
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(stdout, "listening on %s\n", ln.Addr()); err != nil {
		_ = srv.Close()
		return fmt.Errorf("announce address: %w", err)
	}
	logger.Info("Emulator started", "addr", ln.Addr().String(), "seed", *seedPath, "images", len(seed.Images),
		"accounts", len(seed.Accounts))

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info("Emulator stopped", "addr", ln.Addr().String())
	return nil
}
