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
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// What config/samples does against config/samples/emulator-seed.yaml: the outcome the demo shows
// and these tests hold it to. Each sample is there for one row of contract §3.

// outcome is a sample's expected Ready condition: Ready=True with reason Shared, or Stalled with
// the given reason.
type outcome struct {
	ready  bool
	reason string
}

const (
	reasonShared = "Shared"
	// sampleWithShares is the sample config/samples/cvm_v1alpha1_imageshare.yaml (Merge).
	sampleWithShares = "web-base"
)

// samplePolicy is the sample config/samples/cvm_v1alpha1_imagesharepolicy.yaml; it selects the
// three newest of the four golden-ubuntu builds in the seed and owns one ImageShare for each,
// named <policy>-<imageId>.
const samplePolicy = "golden"

// policyChildren are the ImageShares samplePolicy creates: in sampleOutcomes, not in the samples.
var policyChildren = []string{"golden-img-gold1109", "golden-img-gold1116", "golden-img-gold1123"}

// policyOutcomes are the ImageSharePolicy samples' expected Ready conditions.
var policyOutcomes = map[string]outcome{samplePolicy: {ready: true, reason: reasonShared}}

var sampleOutcomes = map[string]outcome{
	sampleWithShares: {ready: true, reason: reasonShared},
	"api-base":       {ready: true, reason: reasonShared}, // Exclusive
	"ci-runner":      {reason: "ShareLimitExceeded"},
	"db-base":        {reason: "RegionMismatch"},
	"gpu-driver":     {reason: "ImageNotShareable"},
	"golden-base":    {reason: "DriftDetected"}, // Observe
	"tools-base":     {reason: "InvalidAccounts"},
	"app-base":       {ready: true, reason: reasonShared}, // replicated to ap-shanghai
	"batch-base":     {ready: true, reason: reasonShared}, // accountsFrom a ConfigMap, published
	"vendor-base":    {ready: true, reason: reasonShared}, // expiresAt 2030
	// The children of the ImageSharePolicy golden (each replicated to ap-shanghai).
	"golden-img-gold1109": {ready: true, reason: reasonShared},
	"golden-img-gold1116": {ready: true, reason: reasonShared},
	"golden-img-gold1123": {ready: true, reason: reasonShared},
}

// expectedShares is every image's share list once the samples settled, sorted.
func expectedShares() map[string][]string {
	ciRunner := []string{"100000000002", "100000000003"}
	for i := 1; i <= 48; i++ {
		ciRunner = append(ciRunner, fmt.Sprintf("3000000000%02d", i))
	}
	return map[string][]string{
		"img-aaaa0001": {"100000000002", "100000000004"},
		"img-bbbb0002": ciRunner,                         // 48 partners + the 2 listed accounts that fit under 50
		"img-cccc0003": {},                               // in ap-shanghai: nothing shared from ap-guangzhou
		"img-dddd0004": {"100000000001"},                 // shared to the owner, untouched
		"img-eeee0005": {"100000000004", "100000000005"}, // Exclusive cancelled 100000000006
		"img-ffff0006": {"100000000002", "100000000007"}, // Observe changed nothing
		"img-gggg0007": {"100000000002"},                 // the one good account
		"img-hhhh0008": {"100000000002", "100000000003"},
		// The copy the operator made of img-hhhh0008 has a new ID; it is keyed by what it is.
		"copy of img-hhhh0008 in ap-shanghai": {"100000000002", "100000000003"},
		// The account listed in the spec, then those of the ConfigMap platform-accounts.
		"img-iiii0009": {"100000000002", "100000000003", "100000000005"},
		"img-jjjj0010": {"100000000007"}, // expires in 2030
		// The policy golden shares the three newest team=platform builds, and their copies; the
		// oldest build and another team's build stay unshared.
		"img-gold1102":                        {},
		"img-gold1109":                        {"100000000002"},
		"img-gold1116":                        {"100000000002"},
		"img-gold1123":                        {"100000000002"},
		"img-data1123":                        {},
		"copy of img-gold1109 in ap-shanghai": {"100000000002"},
		"copy of img-gold1116 in ap-shanghai": {"100000000002"},
		"copy of img-gold1123 in ap-shanghai": {"100000000002"},
	}
}

// expectShares checks the emulator's images against expectedShares.
func expectShares(state emulator.State) {
	GinkgoHelper()
	got := map[string][]string{}
	for _, img := range state.Images {
		key := img.ID
		if src, ok := strings.CutPrefix(img.Name, "imageshare-copy-of-"); ok {
			key = "copy of " + src + " in " + img.Region
		}
		got[key] = slices.Sorted(slices.Values(img.SharedWith))
	}
	want := expectedShares()
	for id := range want {
		want[id] = slices.Sorted(slices.Values(want[id]))
	}
	Expect(got).To(Equal(want))
}

var _ = Describe("The samples against the emulator, through kubectl", Ordered, func() {
	const ns = "samples"
	var st *testenv.Stack

	run := func(args ...string) (string, string, error) { return echoed(st.Kubectl, args...) }
	readyReason := func(name string) string {
		out, _, err := run("get", "imageshare", name, "-n", ns, "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].reason}`)
		Expect(err).NotTo(HaveOccurred())
		return out
	}

	BeforeAll(func(ctx SpecContext) {
		By("building the manager and the emulator")
		Expect(testenv.Build(ctx, projectDir, binDir, nil)).To(Succeed())

		dir, err := os.MkdirTemp("", "imageshare-samples-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = os.RemoveAll(dir) })
		By("starting etcd, kube-apiserver, the emulator and the manager, as make demo does")
		st, err = testenv.StartStack(ctx, testenv.StackOptions{
			ProjectDir: projectDir, Dir: dir, BinDir: binDir, AssetsDir: assetsDir,
			Seed:        filepath.Join(projectDir, "config", "samples", "emulator-seed.yaml"),
			ManagerArgs: []string{"--api-qps", fmt.Sprint(testenv.DemoAPIQPS)},
			Progress: func(format string, args ...any) {
				_, _ = fmt.Fprintf(GinkgoWriter, format+"\n", args...)
			},
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			By("stopping everything the stack started")
			Expect(st.Stop()).To(Succeed())
			Expect(testenv.Running(st.Processes)).To(BeEmpty())
		})
		Expect(st.Processes).To(HaveLen(4))
	}, NodeTimeout(5*time.Minute))

	It("applies the samples", func() {
		_, _, err := run("create", "namespace", ns)
		Expect(err).NotTo(HaveOccurred())
		stdout, _, err := run("apply", "-k", filepath.Join(projectDir, "config", "samples"), "-n", ns)
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout).To(ContainSubstring("secret/tencent-credentials created"))
		Expect(stdout).To(ContainSubstring("configmap/platform-accounts created"))
		for name := range sampleOutcomes {
			if slices.Contains(policyChildren, name) {
				continue
			}
			Expect(stdout).To(ContainSubstring("imageshare.cvm.imageshare.dev/%s created", name))
		}
		for name := range policyOutcomes {
			Expect(stdout).To(ContainSubstring("imagesharepolicy.cvm.imageshare.dev/%s created", name))
		}
	})

	It("brings the policy's children and the policy to Ready: kubectl wait --for=condition=Ready", func() {
		for name, want := range policyOutcomes {
			_, _, err := run("wait", "--for=condition=Ready", "imagesharepolicy/"+name, "-n", ns, "--timeout=90s")
			Expect(err).NotTo(HaveOccurred(), name)
			out, _, err := run("get", "imagesharepolicy", name, "-n", ns, "-o",
				`jsonpath={.status.conditions[?(@.type=="Ready")].reason} {.status.selectedCount}`)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal(fmt.Sprintf("%s %d", want.reason, len(policyChildren))), name)
		}
		out, _, err := run("get", "imageshare", "-n", ns, "-l", "cvm.imageshare.dev/policy="+samplePolicy, "-o",
			`jsonpath={.items[*].metadata.name}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(out)).To(ConsistOf(policyChildren))
	})

	It("publishes where the images are", func() {
		out, _, err := run("get", "configmap", "batch-base-images", "-n", ns, "-o", `jsonpath={.data.ap-guangzhou}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("img-iiii0009"))
		// The policy publishes its newest selected build, and that build's copy in ap-shanghai.
		out, _, err = run("get", "configmap", "golden-images", "-n", ns, "-o",
			`jsonpath={.data.ap-guangzhou} {.data.ap-shanghai}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`^img-gold1123 img-[a-z0-9]{8}$`))
	})

	It("shares the sharing samples: kubectl wait --for=condition=Ready", func() {
		for name, want := range sampleOutcomes {
			if !want.ready {
				continue
			}
			_, _, err := run("wait", "--for=condition=Ready", "imageshare/"+name, "-n", ns, "--timeout=60s")
			Expect(err).NotTo(HaveOccurred(), name)
			Expect(readyReason(name)).To(Equal(want.reason), name)
		}
	})

	DescribeTable("reports what it cannot do: kubectl wait --for=condition=Stalled",
		func(name, reason string) {
			Expect(sampleOutcomes).To(HaveKeyWithValue(name, outcome{reason: reason}))
			_, _, err := run("wait", "--for=condition=Stalled", "imageshare/"+name, "-n", ns, "--timeout=60s")
			Expect(err).NotTo(HaveOccurred())
			Expect(readyReason(name)).To(Equal(reason))
			out, _, err := run("get", "imageshare", name, "-n", ns, "-o",
				`jsonpath={.status.conditions[?(@.type=="Ready")].status} `+
					`{.status.conditions[?(@.type=="Stalled")].reason}`)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal("False " + reason))
		},
		Entry("over the share limit", "ci-runner", "ShareLimitExceeded"),
		Entry("in the wrong region", "db-base", "RegionMismatch"),
		Entry("shared to this account", "gpu-driver", "ImageNotShareable"),
		Entry("drift in Observe mode", "golden-base", "DriftDetected"),
		Entry("accounts that cannot receive shares", "tools-base", "InvalidAccounts"),
	)

	It("says where the misplaced image is and which account did not fit", func() {
		out, _, err := run("get", "imageshare", "db-base", "-n", ns, "-o",
			`jsonpath={.status.conditions[?(@.type=="Stalled")].message}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("Image img-cccc0003 is in ap-shanghai, not ap-guangzhou"))

		out, _, err = run("get", "imageshare", "ci-runner", "-n", ns, "-o",
			`jsonpath={.status.failedAccounts[*].accountId} {.status.failedAccounts[*].reason} {.status.accounts}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("100000000005 ShareLimitExceeded 2/3"))
	})

	It("leaves the cloud with exactly the expected shares", func(ctx SpecContext) {
		state, err := testenv.FetchEmulatorState(ctx, st.Emulator)
		Expect(err).NotTo(HaveOccurred())
		expectShares(state)
	})
})
