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

package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// Ready reports whether obj is Ready (True) for its current generation.
func Ready(obj *cvmv1alpha1.ImageShare) bool { return conditionNow(obj, cvmv1alpha1.ConditionReady) }

// Settled reports whether the controller has finished with obj for its current generation: Ready
// (True) or Stalled (True), as of that generation. Anything else is work in progress.
func Settled(obj *cvmv1alpha1.ImageShare) bool {
	return Ready(obj) || conditionNow(obj, cvmv1alpha1.ConditionStalled)
}

func conditionNow(obj *cvmv1alpha1.ImageShare, typ string) bool {
	c := meta.FindStatusCondition(obj.Status.Conditions, typ)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.Generation
}

// Summary is "namespace/name (Ready=Status Reason: Message)", for progress and timeout messages.
func Summary(obj *cvmv1alpha1.ImageShare) string {
	c := meta.FindStatusCondition(obj.Status.Conditions, cvmv1alpha1.ConditionReady)
	if c == nil {
		return fmt.Sprintf("%s/%s (not reconciled yet)", obj.Namespace, obj.Name)
	}
	return fmt.Sprintf("%s/%s (Ready=%s %s: %s)", obj.Namespace, obj.Name, c.Status, c.Reason, c.Message)
}

// WaitOptions say what WaitSettled waits for.
type WaitOptions struct {
	// Namespace limits the wait to one namespace; empty is every namespace.
	Namespace string
	// Count is how many ImageShares must exist; 0 means at least one.
	Count int
	// Timeout bounds the wait.
	Timeout time.Duration
	// Interval is the time between two lists; 0 means a second.
	Interval time.Duration
	// Progress, when set, is called whenever the unsettled ImageShares or their reasons change.
	Progress func(settled, total int, pending []*cvmv1alpha1.ImageShare)
}

// WaitSettled lists the ImageShares until every one is Settled, and returns them sorted by
// namespace and name. A failing list is retried (the API server answers again in a moment); on
// timeout the error names every unsettled object and its state.
func WaitSettled(ctx context.Context, c client.Reader, o WaitOptions) ([]cvmv1alpha1.ImageShare, error) {
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	deadline := time.Now().Add(o.Timeout)
	last := ""
	for {
		var list cvmv1alpha1.ImageShareList
		err := c.List(ctx, &list, client.InNamespace(o.Namespace))
		slices.SortFunc(list.Items, func(a, b cvmv1alpha1.ImageShare) int {
			return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
		})
		var pending []*cvmv1alpha1.ImageShare
		var names, keys []string
		for i := range list.Items {
			if o := &list.Items[i]; !Settled(o) {
				pending = append(pending, o)
				names = append(names, Summary(o))
				reason := ""
				if c := meta.FindStatusCondition(o.Status.Conditions, cvmv1alpha1.ConditionReady); c != nil {
					reason = c.Reason
				}
				keys = append(keys, o.Namespace+"/"+o.Name+" "+reason)
			}
		}
		enough := len(list.Items) >= max(o.Count, 1)
		if err == nil && enough && len(pending) == 0 {
			return list.Items, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return list.Items, fmt.Errorf("list ImageShares: %w", err)
			}
			return list.Items, fmt.Errorf("after %s, %d of %d ImageShares are neither Ready nor Stalled:\n  %s",
				o.Timeout, len(pending), len(list.Items), strings.Join(names, "\n  "))
		}
		// Progress is told when an object settles or changes its reason, not at every message.
		if now := strings.Join(keys, "\n"); err == nil && now != last && o.Progress != nil {
			o.Progress(len(list.Items)-len(pending), len(list.Items), pending)
			last = now
		}
		select {
		case <-ctx.Done():
			return list.Items, fmt.Errorf("wait for the ImageShares: %w", ctx.Err())
		case <-time.After(o.Interval):
		}
	}
}

// FetchEmulatorState fetches GET /_emulator/state from the emulator at addr (host:port): every
// image with its shares.
func FetchEmulatorState(ctx context.Context, addr string) (emulator.State, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body, err := GetBody(ctx, "http://"+addr+emulator.StatePath)
	if err != nil {
		return emulator.State{}, fmt.Errorf("get emulator state: %w", err)
	}
	var st emulator.State
	if err := json.Unmarshal(body, &st); err != nil {
		return emulator.State{}, fmt.Errorf("decode emulator state: %w", err)
	}
	return st, nil
}

// ShareTableMaxIDs is how many account IDs a share table row shows before "and N more".
const ShareTableMaxIDs = 4

// ShareTable renders the emulator's images as the demo prints them: one row per image with its
// name, region, owner, how many accounts it is shared with and the first of them (sorted).
func ShareTable(st emulator.State) string {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "IMAGE\tNAME\tREGION\tOWNER\tSHARED\tACCOUNTS")
	for _, img := range st.Images {
		ids := slices.Sorted(slices.Values(img.SharedWith))
		accounts := "-"
		if len(ids) > 0 {
			accounts = strings.Join(ids[:min(len(ids), ShareTableMaxIDs)], ", ")
		}
		if len(ids) > ShareTableMaxIDs {
			accounts += fmt.Sprintf(" and %d more", len(ids)-ShareTableMaxIDs)
		}
		_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", img.ID, img.Name, img.Region, img.Owner,
			strconv.Itoa(len(ids)), accounts)
	}
	_ = w.Flush()
	return buf.String()
}
