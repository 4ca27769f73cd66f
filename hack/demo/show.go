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
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// report is what --report writes (the e2e test reads it).
type report = testenv.DemoReport

// showcase applies the samples, waits until the controller has settled every ImageShare, and
// prints what it did: kubectl's table, each Stalled object's message and the cloud's shares.
func showcase(ctx context.Context, cfg config, st *testenv.Stack) (*report, error) {
	rep := &report{Processes: st.Processes, Kubeconfig: st.Kubeconfig}
	say("Applying the samples: kubectl apply -k %s -n %s", cfg.rel(cfg.samples), cfg.namespace)
	if _, _, err := st.Kubectl(ctx, "create", "namespace", cfg.namespace); err != nil {
		return rep, err
	}
	out, _, err := st.Kubectl(ctx, "apply", "-k", cfg.samples, "-n", cfg.namespace)
	if err != nil {
		return rep, err
	}
	fmt.Print(indent(out))

	scheme := runtime.NewScheme()
	if err := cvmv1alpha1.AddToScheme(scheme); err != nil {
		return rep, fmt.Errorf("register the ImageShare API: %w", err)
	}
	c, err := client.New(st.Config, client.Options{Scheme: scheme})
	if err != nil {
		return rep, fmt.Errorf("create client: %w", err)
	}
	say("Waiting until every ImageShare and ImageSharePolicy is Ready or Stalled (at most %s)", cfg.timeout)
	start := time.Now()
	deadline := start.Add(cfg.timeout)
	wait := testenv.WaitOptions{Progress: func(settled, total int, pending []*cvmv1alpha1.ImageShare) {
		names := make([]string, 0, len(pending))
		for _, o := range pending {
			names = append(names, shortSummary(o))
		}
		say("  %d of %d settled; waiting for %s", settled, total, strings.Join(names, ", "))
	}}
	// A policy creates its children after it is applied, and is Ready once they all are: wait
	// for the ImageShares, then for the policies, and again for the ImageShares until both hold.
	lastPolicies := ""
	for {
		wait.Timeout = max(time.Until(deadline), 0)
		objs, err := testenv.WaitSettled(ctx, c, wait)
		rep.ImageShares = objs
		if err != nil {
			return rep, fmt.Errorf("%w\nsee %s", err, cfg.rel(filepath.Join(cfg.dir, "manager.log")))
		}
		policies, pending, err := listPolicies(ctx, c)
		rep.ImageSharePolicies = policies
		if err == nil && len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			if err != nil {
				return rep, err
			}
			return rep, fmt.Errorf("after %s, ImageSharePolicies are neither Ready nor Stalled: %s\nsee %s",
				cfg.timeout, strings.Join(pending, ", "), cfg.rel(filepath.Join(cfg.dir, "manager.log")))
		}
		if now := strings.Join(pending, ", "); err == nil && now != lastPolicies {
			say("  waiting for ImageSharePolicy %s", now)
			lastPolicies = now
		}
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("wait for the ImageSharePolicies: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
	children := 0
	for i := range rep.ImageShares {
		if rep.ImageShares[i].Labels[cvmv1alpha1.PolicyLabel] != "" {
			children++
		}
	}
	say("All %d ImageShares settled in %s (%d of them owned by %d ImageSharePolicy)", len(rep.ImageShares),
		time.Since(start).Round(100*time.Millisecond), children, len(rep.ImageSharePolicies))
	objs := rep.ImageShares

	table, _, err := st.Kubectl(ctx, "get", "ims", "-A", "-o", "wide")
	if err != nil {
		return rep, err
	}
	fmt.Printf("\n$ kubectl get ims -A -o wide\n%s", table)
	var stalled strings.Builder
	for i := range objs {
		c := meta.FindStatusCondition(objs[i].Status.Conditions, cvmv1alpha1.ConditionStalled)
		if c != nil && c.Status == "True" {
			fmt.Fprintf(&stalled, "  %s/%s (%s):\n    %s\n", objs[i].Namespace, objs[i].Name, c.Reason, c.Message)
		}
	}
	if stalled.Len() > 0 {
		fmt.Printf("\nStalled ImageShares, and what to do about them:\n%s", stalled.String())
	}

	policyTable, _, err := st.Kubectl(ctx, "get", "imsp", "-A", "-o", "wide")
	if err != nil {
		return rep, err
	}
	fmt.Printf("\n$ kubectl get imsp -A -o wide\n%s", policyTable)

	if rep.Emulator, err = testenv.FetchEmulatorState(ctx, st.Emulator); err != nil {
		return rep, err
	}
	rep.ShareTable = testenv.ShareTable(rep.Emulator)
	fmt.Printf("\nThe emulator's share table (GET http://%s/_emulator/state):\n%s\n", st.Emulator, rep.ShareTable)
	return rep, nil
}

// listPolicies lists the ImageSharePolicies sorted by namespace and name, and names those that
// are neither Ready nor Stalled for their current generation as "name (Reason)".
func listPolicies(ctx context.Context, c client.Reader) ([]cvmv1alpha1.ImageSharePolicy, []string, error) {
	var list cvmv1alpha1.ImageSharePolicyList
	if err := c.List(ctx, &list); err != nil {
		return nil, nil, fmt.Errorf("list ImageSharePolicies: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b cvmv1alpha1.ImageSharePolicy) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	var pending []string
	for i := range list.Items {
		p := &list.Items[i]
		now := func(typ string) bool {
			c := meta.FindStatusCondition(p.Status.Conditions, typ)
			return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation
		}
		if now(cvmv1alpha1.ConditionReady) || now(cvmv1alpha1.ConditionStalled) {
			continue
		}
		summary := p.Name + " (new)"
		if c := meta.FindStatusCondition(p.Status.Conditions, cvmv1alpha1.ConditionReady); c != nil {
			summary = fmt.Sprintf("%s (%s)", p.Name, c.Reason)
		}
		pending = append(pending, summary)
	}
	return list.Items, pending, nil
}

// shortSummary is "name (Reason)" for progress lines.
func shortSummary(obj *cvmv1alpha1.ImageShare) string {
	if c := meta.FindStatusCondition(obj.Status.Conditions, cvmv1alpha1.ConditionReady); c != nil {
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

// printKeep says how to use the running demo and how to stop it.
func printKeep(cfg config, st *testenv.Stack) {
	fmt.Printf("The demo keeps running (KEEP=1). Use it from this shell with:\n\n"+
		"  export KUBECONFIG=%s\n"+
		"  export PATH=%s:$PATH   # for its kubectl, if you have none\n"+
		"  kubectl get ims,imsp -A\n"+
		"  curl -s http://%s/_emulator/state\n\n"+
		"Logs: %s, %s\nRunning: %s (pids in %s)\nStop everything with: make demo-stop\n",
		st.Kubeconfig, filepath.Dir(st.KubectlPath), st.Emulator,
		cfg.rel(filepath.Join(cfg.dir, "manager.log")), cfg.rel(filepath.Join(cfg.dir, "emulator.log")),
		testenv.Describe(st.Processes), cfg.rel(cfg.pids()))
}
