package controller

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// typoRegion is the mistyped region users really write.
const typoRegion = "ap-shanghia" //nolint:misspell // the typo is the point

var _ = Describe("Copies are images too", func() {
	r2, r4 := recipients[0], recipients[1]

	It("reports a mistyped replica region, names the accepted ones, and clears when it is removed", func() {
		h := start(replicaSeed(0))
		o := h.ims("web", imgA, gz, r2)
		o.Spec.ReplicaRegions = []string{typoRegion, sh}
		h.create(o)
		o = h.expectReason("web", cvmv1alpha1.ReasonCopyFailed)
		Expect(readyMessage(o)).To(ContainSubstring(typoRegion))
		Expect(readyMessage(o)).To(ContainSubstring(sh), "the message names the accepted regions")
		Eventually(func() string { return h.copyID(imgA, sh) }, wait30).ShouldNot(BeEmpty(), "the good region is copied")

		h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Spec.ReplicaRegions = []string{sh} })
		Eventually(h.readyReason("web"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		Expect(h.get("web").Status.Regions).To(HaveLen(1))
	})

	It("never copies twice while a new copy is not yet visible", func() {
		seed := replicaSeed(0)
		seed.Faults.CopyVisibilityDelay = 3 * time.Second
		h := start(seed)
		o := h.ims("web", imgA, gz, r2)
		o.Spec.ReplicaRegions = []string{sh}
		h.create(o)
		Eventually(h.readyReason("web"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		Expect(h.copiesOf(imgA)[sh]).To(HaveLen(1))
		Expect(h.emu.Stats().Calls["SyncImages"]).To(Equal(1))
	})

	It("plans an ImageShare of a copy with the copy's maintainer instead of flip-flopping", func() {
		h := start(replicaSeed(0), withLimit(2))
		src := h.ims("src", imgA, gz, r2)
		src.Spec.ReplicaRegions = []string{sh}
		h.create(src)
		Eventually(h.readyReason("src"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		copyID := h.copyID(imgA, sh)

		By("another ImageShare of the copy, Exclusive and younger: it is in Conflict, nothing is cancelled")
		other := h.ims("copy", copyID, sh, r4)
		other.Spec.Mode = cvmv1alpha1.ModeExclusive
		h.create(other)
		h.expectReason("copy", cvmv1alpha1.ReasonConflict)
		Consistently(func() []string { return h.sharedWith(copyID) }, 3*time.Second, 100*time.Millisecond).
			Should(Equal([]string{r2}))

		By("switched to Merge, it shares on the copy beside the maintainer")
		h.update("copy", func(o *cvmv1alpha1.ImageShare) { o.Spec.Mode = cvmv1alpha1.ModeMerge })
		h.expectReason("copy", cvmv1alpha1.ReasonShared)
		Expect(h.sharedWith(copyID)).To(Equal(sorted(r2, r4)))
		Eventually(h.readyReason("src"), wait30).Should(Equal(cvmv1alpha1.ReasonShared))
	})

	It("keeps the region's entry and says so when copyDeletionPolicy Delete cannot delete a shared copy", func() {
		h := start(replicaSeed(0))
		src := h.ims("src", imgA, gz, r2)
		src.Spec.ReplicaRegions = []string{sh}
		src.Spec.CopyDeletionPolicy = cvmv1alpha1.CopyDeletionPolicyDelete
		h.create(src)
		Eventually(h.readyReason("src"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		copyID := h.copyID(imgA, sh)
		h.create(h.ims("copy", copyID, sh, r4))
		h.expectReason("copy", cvmv1alpha1.ReasonShared)

		h.update("src", func(o *cvmv1alpha1.ImageShare) { o.Spec.ReplicaRegions = nil })
		Eventually(func() string {
			for _, st := range h.get("src").Status.Regions {
				return st.Message
			}
			return ""
		}, wait30).Should(ContainSubstring("still shared"))
		Expect(h.copyID(imgA, sh)).To(Equal(copyID), "a shared copy is never deleted")
		Expect(h.sharedWith(copyID)).To(Equal([]string{r4}), "the source's own share on the copy is cancelled")
	})
})
