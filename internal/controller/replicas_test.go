package controller

import (
	"context"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// copiesOf lists the images named as copies of src, by region.
func (h *harness) copiesOf(src string) map[string][]emulator.StateImage {
	out := map[string][]emulator.StateImage{}
	for _, img := range h.emu.State().Images {
		if img.Name == copyName(src) {
			out[img.Region] = append(out[img.Region], img)
		}
	}
	return out
}

func (h *harness) copyID(src, region string) string {
	c := h.copiesOf(src)[region]
	if len(c) != 1 {
		return ""
	}
	return c[0].ID
}

func replicaSeed(quota int) *emulator.Seed {
	s := baseSeed(private(imgA, gz))
	one := 1
	s.SyncSeconds = &one
	s.ImageQuota = quota
	return s
}

var _ = Describe("Cross-region copies", func() {
	r2, r4 := recipients[0], recipients[1]
	const bj = "ap-beijing"

	It("copies to two regions and shares the copies", func() {
		h := start(replicaSeed(0))
		o := h.ims("web", imgA, gz, r2, r4)
		o.Spec.ReplicaRegions = []string{sh, bj}
		h.create(o)
		Eventually(h.readyReason("web"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		o = h.get("web")
		Expect(o.Status.Regions).To(HaveLen(2))
		for _, st := range o.Status.Regions {
			Expect(st.ImageID).To(Equal(h.copyID(imgA, st.Region)))
			Expect(st.State).To(Equal("NORMAL"))
			Expect(st.SharedAccountIDs).To(Equal(sorted(r2, r4)))
			Expect(st.Ready).To(BeTrue())
			Expect(h.sharedWith(st.ImageID)).To(Equal(sorted(r2, r4)))
		}
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4)))
		Expect(h.emu.Stats().Calls["SyncImages"]).To(Equal(1), "one call copies to every missing region")
	})

	It("reports a region whose quota is full while the other region succeeds", func() {
		seed := replicaSeed(1)
		// The owner already holds one image in ap-beijing: the quota of one is full there.
		seed.Images = append(seed.Images, emulator.SeedImage{ID: "img-full0001", Region: bj, Owner: ownerID})
		h := start(seed)
		o := h.ims("web", imgA, gz, r2)
		o.Spec.ReplicaRegions = []string{sh, bj}
		h.create(o)
		Eventually(h.readyReason("web"), 60*time.Second, 200*time.Millisecond).Should(Equal("CopyFailed"))
		o = h.get("web")
		Expect(readyMessage(o)).To(ContainSubstring(bj))
		Eventually(func() []string { return h.sharedWith(h.copyID(imgA, sh)) }, 30*time.Second).
			Should(Equal([]string{r2}))
		Expect(h.copiesOf(imgA)[bj]).To(BeEmpty())
	})

	It("finds the copy made before a crash instead of copying twice", func() {
		h := start(replicaSeed(0))
		// A copy exists under the controller's name but no status records it:
		// what a crash between SyncImages and the status write leaves behind.
		c := h.ownerClient()
		ids, err := c.Copy(context.Background(), gz, imgA, []string{sh}, copyName(imgA))
		Expect(err).NotTo(HaveOccurred())
		o := h.ims("web", imgA, gz, r2)
		o.Spec.ReplicaRegions = []string{sh}
		h.create(o)
		Eventually(h.readyReason("web"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		Expect(h.get("web").Status.Regions[0].ImageID).To(Equal(ids[sh]))
		Expect(h.copiesOf(imgA)[sh]).To(HaveLen(1))
		Expect(h.emu.Stats().Calls["SyncImages"]).To(Equal(1), "only the test's own copy")
	})

	It("cancels a removed region's shares, and deletes the copy only when asked", func() {
		h := start(replicaSeed(0))
		o := h.ims("web", imgA, gz, r2)
		o.Spec.ReplicaRegions = []string{sh, bj}
		o.Spec.CopyDeletionPolicy = cvmv1alpha1.CopyDeletionPolicyDelete
		h.create(o)
		Eventually(h.readyReason("web"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		shCopy := h.copyID(imgA, sh)
		h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Spec.ReplicaRegions = []string{bj} })
		Eventually(func() map[string][]emulator.StateImage { return h.copiesOf(imgA) }, 30*time.Second).
			ShouldNot(HaveKey(sh), "the copy is deleted under copyDeletionPolicy Delete")
		Eventually(func() []string {
			regions := make([]string, 0, 2)
			for _, st := range h.get("web").Status.Regions {
				regions = append(regions, st.Region)
			}
			return regions
		}, 30*time.Second).Should(Equal([]string{bj}))
		Expect(shCopy).NotTo(BeEmpty())
	})

	It("cancels every copy's shares on deletion, keeping copies under Retain", func() {
		h := start(replicaSeed(0))
		o := h.ims("web", imgA, gz, r2)
		o.Spec.ReplicaRegions = []string{sh}
		h.create(o)
		Eventually(h.readyReason("web"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		shCopy := h.copyID(imgA, sh)
		Expect(k8sClient.Delete(context.Background(), h.get("web"))).To(Succeed())
		Eventually(func() bool { return gone(h, "web") }, 30*time.Second).Should(BeTrue())
		Expect(h.sharedWith(shCopy)).To(BeEmpty())
		Expect(h.sharedWith(imgA)).To(BeEmpty())
		Expect(h.copyID(imgA, sh)).To(Equal(shCopy), "Retain keeps the copy")
	})

	It("deletes the copies on object deletion under copyDeletionPolicy Delete", func() {
		h := start(replicaSeed(0))
		o := h.ims("web", imgA, gz, r2)
		o.Spec.ReplicaRegions = []string{sh}
		o.Spec.CopyDeletionPolicy = cvmv1alpha1.CopyDeletionPolicyDelete
		h.create(o)
		Eventually(h.readyReason("web"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		Expect(k8sClient.Delete(context.Background(), h.get("web"))).To(Succeed())
		Eventually(func() bool { return gone(h, "web") }, 30*time.Second).Should(BeTrue())
		Expect(slices.Collect(func(yield func(string) bool) {
			for r := range h.copiesOf(imgA) {
				if !yield(r) {
					return
				}
			}
		})).To(BeEmpty())
	})

	It("tells the user about replicaRegions when the image lives elsewhere", func() {
		h := start(baseSeed(private(imgA, sh)))
		h.create(h.ims("web", imgA, gz, r2))
		o := h.expectReason("web", cvmv1alpha1.ReasonRegionMismatch)
		Expect(readyMessage(o)).To(ContainSubstring("replicaRegions"))
	})
})
