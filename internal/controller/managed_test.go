package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

var _ = Describe(`"Managed" means this object shared it`, func() {
	r2, r4, r5 := recipients[0], recipients[1], recipients[2]

	It("never cancels an account the console shared before it was listed", func() {
		h := start(baseSeed(private(imgA, gz, r2)))
		h.create(h.ims("web", imgA, gz, r2, r4))
		o := h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(o.Status.SharedAccountIDs).To(Equal(sorted(r2, r4)), "listed and shared, whoever shared it")
		Expect(o.Status.ManagedAccountIDs).To(Equal([]string{r4}), "only what it shared itself")
		Expect(o.Status.Accounts).To(Equal("2/2"))

		h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r5} })
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal(sorted(r2, r5)))
		o = h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(o.Status.UnmanagedAccountIDs).To(Equal([]string{r2}))
		Expect(o.Status.ManagedAccountIDs).To(Equal([]string{r5}))
	})

	It("keeps an account its own while an Observe object lists it too, and never manages for Observe", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.create(h.ims("merge", imgA, gz, r2))
		h.expectReason("merge", cvmv1alpha1.ReasonShared)
		obs := h.ims("watch", imgA, gz, r2)
		obs.Spec.Mode = cvmv1alpha1.ModeObserve
		h.create(obs)
		o := h.expectReason("watch", cvmv1alpha1.ReasonInSync)
		Expect(o.Status.ManagedAccountIDs).To(BeEmpty())
		Expect(h.get("merge").Status.ManagedAccountIDs).To(Equal([]string{r2}))

		By("deleting the Observe object cancels nothing; deleting the Merge object cancels its share")
		Expect(k8sClient.Delete(ctx(), h.get("watch"))).To(Succeed())
		Eventually(h.goneFn("watch"), 5*time.Second).Should(BeTrue())
		Expect(h.sharedWith(imgA)).To(Equal([]string{r2}))
		Expect(k8sClient.Delete(ctx(), h.get("merge"))).To(Succeed())
		Eventually(h.goneFn("merge"), wait30).Should(BeTrue())
		Expect(h.sharedWith(imgA)).To(BeEmpty())
	})
})

func ctx() context.Context { return context.Background() }
