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

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/hack/demo/stack"
	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// pollInterval is how often the ImageShares are listed while waiting for them to settle.
const pollInterval = time.Second

// report is what --report writes: everything the e2e test needs to check the demo's outcome
// without parsing prose.
type report struct {
	// Info is the stack the demo ran: its files, addresses and processes.
	Info stack.Info `json:"info"`
	// ImageShares are the ImageShares as the demo found them settled.
	ImageShares []cvmv1alpha1.ImageShare `json:"imageShares"`
	// Emulator is GET /_emulator/state at the end.
	Emulator emulator.State `json:"emulator"`
	// ShareTable is the share table exactly as printed.
	ShareTable string `json:"shareTable"`
	// Stopped is true when every process of the stack was gone after the demo stopped it.
	Stopped bool `json:"stopped"`
	// Elapsed is the demo's wall time.
	Elapsed string `json:"elapsed"`
}

func (r *report) write(path string) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// showcase applies the samples, waits until the controller has settled every ImageShare, and
// prints what it did: kubectl's table, each Stalled object's message and the cloud's shares.
func showcase(ctx context.Context, cfg config, info stack.Info) (*report, error) {
	rep := &report{Info: info}
	say("Applying the samples: kubectl apply -k %s -n %s", cfg.rel(cfg.samples), cfg.namespace)
	if _, _, err := info.Kubectl(ctx, "create", "namespace", cfg.namespace); err != nil {
		return rep, err
	}
	out, _, err := info.Kubectl(ctx, "apply", "-k", cfg.samples, "-n", cfg.namespace)
	if err != nil {
		return rep, err
	}
	fmt.Print(indent(out))

	objs, err := waitSettled(ctx, cfg, info)
	rep.ImageShares = objs
	if err != nil {
		return rep, err
	}

	table, _, err := info.Kubectl(ctx, "get", "ims", "-A", "-o", "wide")
	if err != nil {
		return rep, err
	}
	fmt.Printf("\n$ kubectl get ims -A -o wide\n%s", table)

	var stalled strings.Builder
	for i := range objs {
		c := meta.FindStatusCondition(objs[i].Status.Conditions, "Stalled")
		if c != nil && c.Status == "True" {
			fmt.Fprintf(&stalled, "  %s/%s (%s):\n    %s\n", objs[i].Namespace, objs[i].Name, c.Reason, c.Message)
		}
	}
	if stalled.Len() > 0 {
		fmt.Printf("\nStalled ImageShares, and what to do about them:\n%s", stalled.String())
	}

	state, err := info.EmulatorState(ctx)
	if err != nil {
		return rep, err
	}
	rep.Emulator = state
	rep.ShareTable = stack.ShareTable(state)
	fmt.Printf("\nThe emulator's share table (GET http://%s/_emulator/state):\n%s\n", info.Emulator, rep.ShareTable)
	return rep, nil
}

// waitSettled polls until every ImageShare is Ready or Stalled for its current generation, saying
// which ones it still waits for whenever that changes; on timeout it names them and their state.
func waitSettled(ctx context.Context, cfg config, info stack.Info) ([]cvmv1alpha1.ImageShare, error) {
	say("Waiting until every ImageShare is Ready or Stalled (at most %s)", cfg.timeout)
	start := time.Now()
	deadline := start.Add(cfg.timeout)
	var objs []cvmv1alpha1.ImageShare
	lastPending, lastErr := "", ""
	for {
		var err error
		objs, err = info.ImageShares(ctx)
		if err != nil && err.Error() != lastErr {
			// The API server answers again in a moment; only a persistent failure ends the wait.
			say("  listing ImageShares failed, retrying: %v", err)
			lastErr = err.Error()
		}
		var pending, short []string
		for i := range objs {
			if !stack.Settled(&objs[i]) {
				pending = append(pending, stack.Summary(&objs[i]))
				short = append(short, shortSummary(&objs[i]))
			}
		}
		if err == nil && len(objs) > 0 && len(pending) == 0 {
			say("All %d ImageShares settled in %s", len(objs), time.Since(start).Round(100*time.Millisecond))
			return objs, nil
		}
		if time.Now().After(deadline) {
			return objs, fmt.Errorf("after %s, %d of %d ImageShares are neither Ready nor Stalled:\n  %s\n"+
				"see %s", cfg.timeout, len(pending), len(objs), strings.Join(pending, "\n  "),
				cfg.rel(filepath.Join(info.Dir, "manager.log")))
		}
		if names := strings.Join(short, ", "); err == nil && names != lastPending {
			say("  %d of %d settled; waiting for %s", len(objs)-len(pending), len(objs), names)
			lastPending = names
		}
		select {
		case <-ctx.Done():
			return objs, fmt.Errorf("wait for the ImageShares: %w", ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// shortSummary is "name (Reason)" for progress lines.
func shortSummary(obj *cvmv1alpha1.ImageShare) string {
	if c := meta.FindStatusCondition(obj.Status.Conditions, "Ready"); c != nil {
		return fmt.Sprintf("%s (%s)", obj.Name, c.Reason)
	}
	return obj.Name + " (new)"
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
