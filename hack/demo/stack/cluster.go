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

package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// kubectlTimeout bounds one kubectl call that has no deadline of its own.
const kubectlTimeout = 2 * time.Minute

// Kubectl runs the stack's kubectl against its API server and returns what it printed. A
// non-zero exit is an error that carries stderr.
func (i Info) Kubectl(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(ctx, kubectlTimeout)
	defer cancel()
	// A discovery cache of its own keeps runs apart: a later API server on the same port must
	// not be answered from an earlier one's resource list.
	cacheDir := filepath.Join(i.Dir, "kubectl-cache")
	cmd := exec.CommandContext(ctx, i.KubectlPath, append([]string{"--cache-dir=" + cacheDir}, args...)...)
	// KUBECTL_KUBERC=false keeps a developer's ~/.kube/kuberc aliases and defaults out.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+i.Kubeconfig, "KUBECTL_KUBERC=false")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err,
			strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), nil
}

// ImageShares lists every ImageShare in the cluster, sorted by namespace and name.
func (i Info) ImageShares(ctx context.Context) ([]cvmv1alpha1.ImageShare, error) {
	out, _, err := i.Kubectl(ctx, "get", "imageshares", "--all-namespaces", "-o", "json")
	if err != nil {
		return nil, err
	}
	var list cvmv1alpha1.ImageShareList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("decode ImageShares: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b cvmv1alpha1.ImageShare) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return list.Items, nil
}

// EmulatorState fetches GET /_emulator/state: every image in the emulator with its shares.
func (i Info) EmulatorState(ctx context.Context) (emulator.State, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+i.Emulator+emulator.StatePath, nil)
	if err != nil {
		return emulator.State{}, fmt.Errorf("build state request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return emulator.State{}, fmt.Errorf("get emulator state: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return emulator.State{}, fmt.Errorf("read emulator state: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return emulator.State{}, fmt.Errorf("get emulator state: HTTP %d: %s", resp.StatusCode, body)
	}
	var st emulator.State
	if err := json.Unmarshal(body, &st); err != nil {
		return emulator.State{}, fmt.Errorf("decode emulator state: %w", err)
	}
	return st, nil
}

// Settled reports whether the controller has finished with obj for its current generation: Ready
// (True) or Stalled (True), as of that generation. Anything else is work in progress.
func Settled(obj *cvmv1alpha1.ImageShare) bool {
	for _, t := range []string{"Ready", "Stalled"} {
		c := meta.FindStatusCondition(obj.Status.Conditions, t)
		if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.Generation {
			return true
		}
	}
	return false
}

// Summary is "namespace/name (Ready=Status Reason: Message)", for progress and timeout messages.
func Summary(obj *cvmv1alpha1.ImageShare) string {
	c := meta.FindStatusCondition(obj.Status.Conditions, "Ready")
	if c == nil {
		return fmt.Sprintf("%s/%s (not reconciled yet)", obj.Namespace, obj.Name)
	}
	return fmt.Sprintf("%s/%s (Ready=%s %s: %s)", obj.Namespace, obj.Name, c.Status, c.Reason, c.Message)
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
