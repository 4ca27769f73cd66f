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
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const (
	// sampleNamespace is the namespace of the contract's example.
	sampleNamespace = "team-a"
	sampleName      = "web-base"
	sampleImageID   = "img-aaaa0001"
)

// badManifest breaks two rules at once, the way a hand-written manifest does.
const badManifest = `apiVersion: cvm.imageshare.dev/v1alpha1
kind: ImageShare
metadata:
  name: bad-input
spec:
  imageId: img-BAD
  region: ap-guangzhou
  accountIds:
    - "0100000000002"
`

// table is kubectl's default table output: the column names, and each row's
// cells by column name.
type table struct {
	columns []string
	rows    map[string]map[string]string
}

// parseTable reads kubectl's table output. Cells are cut at the header's column
// offsets rather than split on spaces, because an empty cell (a status field no
// controller has written) prints as blanks.
func parseTable(out string) table {
	GinkgoHelper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	Expect(lines).NotTo(BeEmpty())
	header := lines[0]
	t := table{columns: strings.Fields(header), rows: map[string]map[string]string{}}
	starts := make([]int, len(t.columns))
	offset := 0
	for i, column := range t.columns {
		starts[i] = offset + strings.Index(header[offset:], column)
		offset = starts[i] + len(column)
	}
	for _, line := range lines[1:] {
		row := map[string]string{}
		for i, column := range t.columns {
			end := len(line)
			if i+1 < len(starts) {
				end = min(starts[i+1], len(line))
			}
			if starts[i] < end {
				row[column] = strings.TrimSpace(line[starts[i]:end])
			} else {
				row[column] = ""
			}
		}
		t.rows[row["NAME"]] = row
	}
	return t
}

var _ = Describe("ImageShare through kubectl", Ordered, func() {
	samplePath := func() string {
		return filepath.Join(projectDir, "config", "samples", "cvm_v1alpha1_imageshare.yaml")
	}

	BeforeAll(func() {
		_, _, err := kubectl("create", "namespace", sampleNamespace)
		Expect(err).NotTo(HaveOccurred())
	})

	It("applies the sample", func() {
		stdout, _, err := kubectl("apply", "-n", sampleNamespace, "-f", samplePath())
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout).To(ContainSubstring("imageshare.cvm.imageshare.dev/web-base created"))

		stdout, _, err = kubectl("get", "imageshare", sampleName, "-n", sampleNamespace, "-o",
			"jsonpath={.spec.imageId} {.spec.region} {.spec.accountIds} {.spec.mode} {.spec.deletionPolicy}")
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout).To(Equal(`img-aaaa0001 ap-guangzhou ["100000000002","100000000004"] Merge Delete`))
	})

	It("applies the sample again without a change", func() {
		stdout, _, err := kubectl("apply", "-n", sampleNamespace, "-f", samplePath())
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout).To(ContainSubstring("imageshare.cvm.imageshare.dev/web-base unchanged"))
	})

	It("refuses a bad manifest and says which fields break which rule", func() {
		_, stderr, err := kubectl("apply", "-n", sampleNamespace, "-f", writeManifest("bad.yaml", badManifest))
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring(`The ImageShare "bad-input" is invalid`))
		Expect(stderr).To(ContainSubstring(
			`spec.imageId: Invalid value: "img-BAD": spec.imageId in body should match '^img-[a-z0-9]{8}$'`))
		Expect(stderr).To(ContainSubstring(
			`spec.accountIds[0]: Invalid value: "0100000000002": ` +
				`spec.accountIds[0] in body should match '^[1-9][0-9]{4,19}$'`))

		_, stderr, err = kubectl("get", "imageshare", "bad-input", "-n", sampleNamespace)
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("NotFound"))
	})

	It("refuses to move the sample to another image", func() {
		sample, err := os.ReadFile(samplePath())
		Expect(err).NotTo(HaveOccurred())
		moved := strings.Replace(string(sample), "imageId: "+sampleImageID, "imageId: img-bbbb0002", 1)
		Expect(moved).NotTo(Equal(string(sample)))

		_, stderr, err := kubectl("apply", "-n", sampleNamespace, "-f", writeManifest("moved.yaml", moved))
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("imageId is immutable: create a new ImageShare instead"))
	})

	It("explains accountIds", func() {
		// The API server publishes a new CRD's OpenAPI a moment after the CRD is
		// established, so explain may not know the type on the very first try.
		Eventually(func(g Gomega) {
			stdout, _, err := kubectl("explain", "imageshare.spec.accountIds")
			g.Expect(err).NotTo(HaveOccurred())
			// kubectl re-wraps the description, so compare it with spaces collapsed.
			text := strings.Join(strings.Fields(stdout), " ")
			g.Expect(text).To(ContainSubstring("KIND: ImageShare"))
			g.Expect(text).To(ContainSubstring("FIELD: accountIds <[]string>"))
			g.Expect(text).To(ContainSubstring("accountIds are the root account IDs (5 to 20 digits, as strings)"))
			g.Expect(text).To(ContainSubstring("each ID at most once, at most 500 IDs"))
		}).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	})

	It("lists ImageShares by the short name with the contract's columns", func() {
		stdout, _, err := kubectl("get", "ims", "-n", sampleNamespace)
		Expect(err).NotTo(HaveOccurred())
		t := parseTable(stdout)
		Expect(t.columns).To(Equal([]string{"NAME", "IMAGE", "REGION", "ACCOUNTS", "READY", "REASON", "AGE"}))
		Expect(t.rows).To(HaveKey(sampleName))
		row := t.rows[sampleName]
		Expect(row).To(HaveKeyWithValue("IMAGE", sampleImageID))
		Expect(row).To(HaveKeyWithValue("REGION", "ap-guangzhou"))
		Expect(row["AGE"]).To(MatchRegexp(`^[0-9]+[smhd]`))
	})

	It("adds MODE, EXPIRES and MESSAGE in the wide output", func() {
		stdout, _, err := kubectl("get", "ims", "-n", sampleNamespace, "-o", "wide")
		Expect(err).NotTo(HaveOccurred())
		t := parseTable(stdout)
		Expect(t.columns).To(Equal([]string{
			"NAME", "IMAGE", "REGION", "ACCOUNTS", "READY", "REASON", "AGE", "MODE", "EXPIRES", "MESSAGE"}))
		Expect(t.rows).To(HaveKey(sampleName))
		Expect(t.rows[sampleName]).To(HaveKeyWithValue("MODE", "Merge"))
		Expect(t.rows[sampleName]).To(HaveKey("MESSAGE"))
	})

	It("deletes the sample", func() {
		stdout, _, err := kubectl("delete", "-n", sampleNamespace, "-f", samplePath())
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout).To(ContainSubstring(`imageshare.cvm.imageshare.dev "web-base" deleted`))
	})
})
