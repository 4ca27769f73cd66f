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

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// demoTimeout bounds one run of the demo program; a run takes well under a minute with the
// binaries cached, and this only stops a hung test.
const demoTimeout = 5 * time.Minute

// demoRun is one run of the demo program.
type demoRun struct {
	stdout, stderr string
	err            error
}

// runDemo runs the demo program the way `make demo` does, with its files in dir, the suite's
// control plane binaries and the binaries built into the suite's binDir.
func runDemo(demo, dir string, args ...string) demoRun {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), demoTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, demo, append([]string{"--dir", dir, "--bin-dir", binDir, "--assets", assetsDir},
		args...)...)
	cmd.Dir = projectDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	_, _ = fmt.Fprintf(GinkgoWriter, "$ demo %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	return demoRun{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// parsedRow is one row of the share table as printed.
type parsedRow struct {
	name, region, owner string
	count               int
	shown               []string
	more                int
}

// parseShareTable reads the share table that follows header in the demo's output.
func parseShareTable(out, header string) map[string]parsedRow {
	GinkgoHelper()
	_, after, found := strings.Cut(out, header)
	Expect(found).To(BeTrue(), "no share table in the output")
	lines := strings.Split(after, "\n")
	Expect(len(lines)).To(BeNumerically(">", 2))
	Expect(strings.Fields(lines[1])).To(Equal([]string{"IMAGE", "NAME", "REGION", "OWNER", "SHARED", "ACCOUNTS"}))
	rows := map[string]parsedRow{}
	for _, line := range lines[2:] {
		if strings.TrimSpace(line) == "" {
			break
		}
		f := strings.Fields(line)
		Expect(len(f)).To(BeNumerically(">=", 6), line)
		count, err := strconv.Atoi(f[4])
		Expect(err).NotTo(HaveOccurred(), line)
		row := parsedRow{name: f[1], region: f[2], owner: f[3], count: count}
		accounts := strings.Join(f[5:], " ")
		if list, more, ok := strings.Cut(accounts, " and "); ok {
			accounts = list
			row.more, err = strconv.Atoi(strings.TrimSuffix(more, " more"))
			Expect(err).NotTo(HaveOccurred(), line)
		}
		if accounts != "-" {
			row.shown = strings.Split(accounts, ", ")
		}
		rows[f[0]] = row
	}
	return rows
}

var _ = Describe("make demo", Ordered, func() {
	var demo string

	BeforeAll(func(ctx SpecContext) {
		demo = filepath.Join(binDir, "demo")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", demo, "./hack/demo")
		cmd.Dir = projectDir
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
	}, NodeTimeout(5*time.Minute))

	Context("run to the end", Ordered, func() {
		var run demoRun
		var rep testenv.DemoReport

		BeforeAll(func() {
			dir, err := os.MkdirTemp("", "imageshare-demo-")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { _ = os.RemoveAll(dir) })
			reportPath := filepath.Join(dir, "report.json")
			run = runDemo(demo, dir, "--report", reportPath)
			Expect(run.err).NotTo(HaveOccurred(), run.stderr)
			data, err := os.ReadFile(reportPath)
			Expect(err).NotTo(HaveOccurred())
			Expect(json.Unmarshal(data, &rep)).To(Succeed())
		})

		It("brings every sample to its expected Ready or Stalled reason", func() {
			Expect(run.stdout).To(ContainSubstring("==> All %d ImageShares settled", len(sampleOutcomes)))
			names := make([]string, 0, len(rep.ImageShares))
			for i := range rep.ImageShares {
				obj := &rep.ImageShares[i]
				names = append(names, obj.Name)
				Expect(obj.Namespace).To(Equal("demo"))
				want, ok := sampleOutcomes[obj.Name]
				Expect(ok).To(BeTrue(), "unexpected ImageShare %s", obj.Name)
				ready := meta.FindStatusCondition(obj.Status.Conditions, "Ready")
				Expect(ready).NotTo(BeNil(), obj.Name)
				Expect(ready.Reason).To(Equal(want.reason), obj.Name)
				Expect(ready.ObservedGeneration).To(Equal(obj.Generation), obj.Name)
				stalled := meta.IsStatusConditionTrue(obj.Status.Conditions, "Stalled")
				if want.ready {
					Expect(ready.Status).To(Equal(metav1.ConditionTrue), obj.Name)
					Expect(stalled).To(BeFalse(), obj.Name)
				} else {
					Expect(ready.Status).To(Equal(metav1.ConditionFalse), obj.Name)
					Expect(stalled).To(BeTrue(), obj.Name)
					// Each Stalled object's message is printed for people to act on.
					Expect(run.stdout).To(ContainSubstring("  demo/%s (%s):\n    %s\n", obj.Name, want.reason,
						ready.Message))
				}
			}
			Expect(names).To(ConsistOf(slices.Collect(maps.Keys(sampleOutcomes))))
		})

		It("prints kubectl get ims -A -o wide", func() {
			_, table, found := strings.Cut(run.stdout, "$ kubectl get ims -A -o wide\n")
			Expect(found).To(BeTrue())
			table, _, _ = strings.Cut(table, "\n\n")
			t := parseTable(table)
			Expect(t.columns).To(Equal([]string{"NAMESPACE", "NAME", "IMAGE", "REGION", "ACCOUNTS", "READY",
				"REASON", "AGE", "MODE", "EXPIRES", "MESSAGE"}))
			Expect(t.rows).To(HaveLen(len(sampleOutcomes)))
			for name, want := range sampleOutcomes {
				Expect(t.rows).To(HaveKey(name))
				Expect(t.rows[name]).To(HaveKeyWithValue("REASON", want.reason))
				Expect(t.rows[name]).To(HaveKeyWithValue("READY", map[bool]string{true: "True", false: "False"}[want.ready]))
			}
		})

		It("prints kubectl get imsp -A -o wide after the ImageShares, with the policy's children Ready", func() {
			Expect(run.stdout).To(MatchRegexp(`(?s)\$ kubectl get ims -A -o wide\n.*\$ kubectl get imsp -A -o wide\n`))
			Expect(run.stdout).To(ContainSubstring("(%d of them owned by %d ImageSharePolicy)", len(policyChildren),
				len(policyOutcomes)))
			_, table, found := strings.Cut(run.stdout, "$ kubectl get imsp -A -o wide\n")
			Expect(found).To(BeTrue())
			table, _, _ = strings.Cut(table, "\n\n")
			t := parseTable(table)
			Expect(t.columns).To(Equal([]string{"NAMESPACE", "NAME", "REGION", "SELECTED", "READY", "REASON", "AGE",
				"PREFIX", "KEEP", "EXPIRES", "MESSAGE"}))
			Expect(t.rows).To(HaveLen(len(policyOutcomes)))
			for name, want := range policyOutcomes {
				Expect(t.rows).To(HaveKey(name))
				Expect(t.rows[name]).To(HaveKeyWithValue("REASON", want.reason))
				Expect(t.rows[name]).To(HaveKeyWithValue("READY", map[bool]string{true: "True", false: "False"}[want.ready]))
				Expect(t.rows[name]).To(HaveKeyWithValue("SELECTED", strconv.Itoa(len(policyChildren))))
			}
			Expect(rep.ImageSharePolicies).To(HaveLen(len(policyOutcomes)))
			for i := range rep.ImageSharePolicies {
				p := &rep.ImageSharePolicies[i]
				ready := meta.FindStatusCondition(p.Status.Conditions, "Ready")
				Expect(ready).NotTo(BeNil(), p.Name)
				Expect(ready.ObservedGeneration).To(Equal(p.Generation), p.Name)
				children := make([]string, 0, len(p.Status.Images))
				for _, img := range p.Status.Images {
					Expect(img.Ready).To(BeTrue(), img.Child)
					children = append(children, img.Child)
				}
				Expect(children).To(ConsistOf(policyChildren))
			}
			for i := range rep.ImageShares {
				obj := &rep.ImageShares[i]
				Expect(slices.Contains(policyChildren, obj.Name)).To(Equal(
					obj.Labels[cvmv1alpha1.PolicyLabel] == samplePolicy), obj.Name)
			}
		})

		It("prints the share table as the emulator reports it", func() {
			expectShares(rep.Emulator)
			Expect(run.stdout).To(ContainSubstring(rep.ShareTable))
			rows := parseShareTable(run.stdout, "The emulator's share table")
			Expect(rows).To(HaveLen(len(rep.Emulator.Images)))
			for _, img := range rep.Emulator.Images {
				Expect(rows).To(HaveKey(img.ID))
				row := rows[img.ID]
				sorted := slices.Sorted(slices.Values(img.SharedWith))
				Expect(row.name).To(Equal(img.Name))
				Expect(row.region).To(Equal(img.Region))
				Expect(row.owner).To(Equal(img.Owner))
				Expect(row.count).To(Equal(len(sorted)))
				Expect(row.more).To(Equal(max(0, len(sorted)-testenv.ShareTableMaxIDs)))
				Expect(row.shown).To(Equal(sorted[:min(len(sorted), testenv.ShareTableMaxIDs)]))
			}
		})

		It("prints what README.md shows", func() {
			readme, err := os.ReadFile(filepath.Join(projectDir, "README.md"))
			Expect(err).NotTo(HaveOccurred())
			_, pasted, found := strings.Cut(string(readme), "```text\n$ make demo\n")
			Expect(found).To(BeTrue(), "README.md has no pasted make demo output")
			pasted, _, _ = strings.Cut(pasted, "```")
			Expect(comparableDemoOutput(run.stdout)).To(Equal(comparableDemoOutput(pasted)),
				"README.md's pasted `make demo` output is stale: run `make demo` and paste its output")
		})

		It("stops everything it started and leaves no process behind", func() {
			procs := rep.Processes
			Expect(procs).To(HaveLen(4))
			Expect(procs).To(ContainElements(
				HaveField("Name", testenv.ProcessEtcd), HaveField("Name", testenv.ProcessAPIServer),
				HaveField("Name", testenv.ProcessEmulator), HaveField("Name", testenv.ProcessManager)))
			for _, p := range procs {
				Expect(p.PID).To(BeNumerically(">", 0))
				Expect(run.stdout).To(ContainSubstring(p.String()))
			}
			Expect(rep.Stopped).To(BeTrue())
			Expect(testenv.Running(procs)).To(BeEmpty())
			Expect(run.stdout).To(ContainSubstring("no process left behind"))
			_, err := os.Stat(rep.Kubeconfig)
			Expect(errors.Is(err, os.ErrNotExist)).To(BeTrue(), "the kubeconfig of a stopped demo is removed")
		})
	})

	Context("kept running (make demo KEEP=1)", Ordered, func() {
		var dir string

		BeforeAll(func() {
			var err error
			dir, err = os.MkdirTemp("", "imageshare-demo-keep-")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() {
				// Stops the demo if a spec failed before the one that stops it.
				runDemo(demo, dir, "--stop")
				_ = os.RemoveAll(dir)
			})
		})

		It("starts, shows the samples and stays up with a usable KUBECONFIG", func(ctx SpecContext) {
			run := runDemo(demo, dir, "--keep")
			Expect(run.err).NotTo(HaveOccurred(), run.stderr)
			kubeconfig := filepath.Join(dir, "kubeconfig")
			Expect(run.stdout).To(ContainSubstring("export KUBECONFIG=%s\n", kubeconfig))
			Expect(run.stdout).To(ContainSubstring("make demo-stop"))
			Expect(run.stdout).To(ContainSubstring("==> All %d ImageShares settled", len(sampleOutcomes)))

			stdout, _, err := testenv.Kubectl(ctx, controlPlane.KubectlPath, kubeconfig, "get", "ims", "-A")
			Expect(err).NotTo(HaveOccurred())
			t := parseTable(stdout)
			Expect(t.rows).To(HaveLen(len(sampleOutcomes)))
			Expect(t.rows).To(HaveKeyWithValue(sampleWithShares, HaveKeyWithValue("REASON", reasonShared)))
		}, NodeTimeout(demoTimeout))

		It("refuses a second demo while one runs", func() {
			run := runDemo(demo, dir)
			Expect(run.err).To(HaveOccurred())
			Expect(run.stderr).To(ContainSubstring("another demo is running (pid "))
			Expect(run.stderr).To(ContainSubstring("stop it with `make demo-stop`"))
			Expect(run.stdout).NotTo(ContainSubstring("Starting etcd"))
		})

		It("stops everything with make demo-stop", func() {
			procs, err := testenv.ReadProcesses(filepath.Join(dir, "pids"))
			Expect(err).NotTo(HaveOccurred())
			Expect(procs).To(HaveLen(4))
			Expect(testenv.Running(procs)).To(HaveLen(4), "the kept demo runs after the demo program exited")

			run := runDemo(demo, dir, "--stop")
			Expect(run.err).NotTo(HaveOccurred(), run.stderr)
			Expect(run.stdout).To(ContainSubstring("no process left behind"))
			Expect(testenv.Running(procs)).To(BeEmpty())
			_, err = os.Stat(filepath.Join(dir, "kubeconfig"))
			Expect(errors.Is(err, os.ErrNotExist)).To(BeTrue(), "make demo-stop removes the kubeconfig")

			run = runDemo(demo, dir, "--stop")
			Expect(run.err).NotTo(HaveOccurred(), run.stderr)
			Expect(run.stdout).To(ContainSubstring("No demo is running"))
		})
	})
})

// Parts of the demo's output that differ from run to run: addresses, pids, ages and timings, and
// the directory of the logs (bin/demo for make demo, a temporary one in this test).
var (
	volatileAddr    = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	volatilePID     = regexp.MustCompile(`pid \d+`)
	volatileSettled = regexp.MustCompile(`settled in \S+`)
	volatileAge     = regexp.MustCompile(` \d+[smh] +(Merge|Exclusive|Observe) `)
	// An ImageSharePolicy row's age is followed by its name prefix and keepLatest.
	volatilePolicyAge = regexp.MustCompile(` \d+[smh] +(\S+ +\d+ )`)
	volatileLogs      = regexp.MustCompile(`Logs are in \S+`)
	volatileSpaceRun  = regexp.MustCompile(` {2,}`)
	// Progress lines while samples settle depend on timing.
	volatileProgress = regexp.MustCompile(`(?m)^==> +(\d+ of \d+ settled; waiting for|waiting for ImageSharePolicy) .*\n`)
)

// comparableDemoOutput is the demo's output from the samples on, with what varies between runs
// replaced and column padding (which follows the widths of those values) collapsed.
func comparableDemoOutput(out string) string {
	_, rest, found := strings.Cut(out, "==> Applying the samples")
	if !found {
		return out
	}
	rest = volatileProgress.ReplaceAllString(rest, "")
	rest = volatileAddr.ReplaceAllString(rest, "ADDR")
	rest = volatilePID.ReplaceAllString(rest, "pid N")
	rest = volatileSettled.ReplaceAllString(rest, "settled in T")
	rest = volatileAge.ReplaceAllString(rest, " AGE $1 ")
	rest = volatilePolicyAge.ReplaceAllString(rest, " AGE $1")
	rest = volatileLogs.ReplaceAllString(rest, "Logs are in DIR")
	rest = volatileSpaceRun.ReplaceAllString(rest, " ")
	// Copies get their IDs in the order SyncImages calls happen, which concurrent workers
	// decide: compare them as IDs, and the share table's copy rows as a set.
	rest = volatileCopyID.ReplaceAllString(rest, "img-cCOPY")
	lines := strings.Split(strings.TrimSpace(rest), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && strings.HasPrefix(lines[j], "img-cCOPY ") {
			j++
		}
		slices.Sort(lines[i:j])
		i = max(j, i+1)
	}
	return strings.Join(lines, "\n")
}

// volatileCopyID is a copy's image ID (img-c and seven digits, as the emulator numbers them).
var volatileCopyID = regexp.MustCompile(`img-c[0-9]{7}`)
