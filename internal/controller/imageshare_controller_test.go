package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
)

const (
	gz     = "ap-guangzhou"
	sh     = "ap-shanghai"
	imgA   = "img-aaaa0001"
	imgB   = "img-bbbb0002"
	wait30 = 30 * time.Second
)

func private(id, region string, shared ...string) emulator.SeedImage {
	return emulator.SeedImage{ID: id, Region: region, Owner: ownerID, Name: "web-base", SharedWith: shared}
}

var _ = Describe("ImageShare controller", func() {
	var (
		r2, r4, r5, r6, r7 = recipients[0], recipients[1], recipients[2], recipients[3], recipients[4]
	)

	It("shares the listed accounts and reports Ready", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.create(h.ims("web", imgA, gz, r2, r4))
		o := h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4)))
		Expect(o.Status.SharedAccountIDs).To(Equal(sorted(r2, r4)))
		Expect(o.Status.Accounts).To(Equal("2/2"))
		Expect(o.Status.ImageName).To(Equal("web-base"))
		Expect(o.Status.ImageState).To(Equal("NORMAL"))
		Expect(o.Status.LastSyncTime).NotTo(BeNil())
		Expect(o.Finalizers).To(ContainElement(Finalizer))
	})

	It("adds and removes accounts as the spec changes", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.create(h.ims("web", imgA, gz, r2, r4))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r4, r5} })
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal(sorted(r4, r5)))
		o := h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(o.Status.SharedAccountIDs).To(Equal(sorted(r4, r5)))
	})

	It("fills the limit in spec order, counting unmanaged shares, and stalls on the rest", func() {
		h := start(baseSeed(private(imgA, gz, r7)), withLimit(3))
		h.create(h.ims("web", imgA, gz, r2, r4, r5))
		o := h.expectReason("web", cvmv1alpha1.ReasonShareLimitExceeded)
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4, r7)))
		Expect(o.Status.UnmanagedAccountIDs).To(Equal([]string{r7}))
		Expect(o.Status.FailedAccounts).To(HaveLen(1))
		Expect(o.Status.FailedAccounts[0].AccountID).To(Equal(r5))
		Expect(o.Status.FailedAccounts[0].Reason).To(Equal("ShareLimitExceeded"))
		Expect(o.Status.Accounts).To(Equal("2/3"))
		Expect(h.emu.Stats().Errors).NotTo(HaveKey("OverQuota"), "the limit is enforced before calling")
	})

	It("cancels before it shares, so a swap at the limit never overshoots", func() {
		h := start(baseSeed(private(imgA, gz)), withLimit(2))
		h.create(h.ims("web", imgA, gz, r2, r4))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r4, r5} })
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal(sorted(r4, r5)))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(h.emu.Stats().Errors).NotTo(HaveKey("OverQuota"))
	})

	It("names the region an image really lives in", func() {
		h := start(baseSeed(private(imgA, sh)))
		h.create(h.ims("web", imgA, gz, r2))
		o := h.expectReason("web", cvmv1alpha1.ReasonRegionMismatch)
		Expect(readyMessage(o)).To(ContainSubstring("is in ap-shanghai, not ap-guangzhou"))
		Expect(h.modifyCalls()).To(BeZero())
	})

	It("reports an image that exists nowhere", func() {
		h := start(baseSeed())
		h.create(h.ims("web", "img-zzzz9999", gz, r2))
		o := h.expectReason("web", cvmv1alpha1.ReasonImageNotFound)
		Expect(readyMessage(o)).To(ContainSubstring("img-zzzz9999"))
	})

	DescribeTable("refuses images Tencent cannot share, without calling ModifyImageSharePermission",
		func(img emulator.SeedImage, fragment string) {
			h := start(baseSeed(img))
			h.create(h.ims("web", img.ID, gz, r2))
			o := h.expectReason("web", cvmv1alpha1.ReasonImageNotShareable)
			Expect(readyMessage(o)).To(ContainSubstring(fragment))
			Expect(h.modifyCalls()).To(BeZero())
		},
		Entry("shared to me", emulator.SeedImage{ID: imgB, Region: gz, Owner: otherOwner,
			SharedWith: []string{ownerID}}, "SHARED_IMAGE"),
		Entry("BYOL", emulator.SeedImage{ID: imgB, Region: gz, Owner: ownerID, LicenseType: "BYOL"}, "BYOL"),
		Entry("encrypted", emulator.SeedImage{ID: imgB, Region: gz, Owner: ownerID, Encrypted: true}, "encrypted"),
	)

	It("shares the good accounts and lists the bad ones", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.create(h.ims("web", imgA, gz, r2, unknownAcct, collab, ownerID, r4))
		o := h.expectReason("web", cvmv1alpha1.ReasonInvalidAccounts)
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4)))
		reasons := map[string]string{}
		for _, f := range o.Status.FailedAccounts {
			reasons[f.AccountID] = f.Reason
		}
		Expect(reasons).To(Equal(map[string]string{unknownAcct: "AccountNotFound", collab: "NotRootAccount",
			ownerID: "AccountIsOwner"}))
		Expect(o.Status.FailedAccounts[0].AccountID < o.Status.FailedAccounts[1].AccountID).To(BeTrue())

		By("not retrying the failed accounts on later reconciles of the same spec")
		calls := h.modifyCalls()
		h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Labels = map[string]string{"touch": "1"} })
		Consistently(h.modifyCalls, 2*time.Second).Should(Equal(calls))
	})

	It("reports missing credentials and recovers when the Secret appears", func() {
		h := start(baseSeed(private(imgA, gz)))
		o := h.ims("web", imgA, gz, r2)
		o.Spec.CredentialsRef.Name = "late-credentials"
		h.create(o)
		o = h.expectReason("web", cvmv1alpha1.ReasonCredentialsMissing)
		Expect(readyMessage(o)).To(ContainSubstring("late-credentials"))
		h.secret("late-credentials", ownerSecret, ownerKey)
		h.expectReason("web", cvmv1alpha1.ReasonShared)
	})

	It("reports rejected credentials and recovers when the Secret is fixed", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.secret("bad-credentials", ownerSecret, "not-the-key")
		o := h.ims("web", imgA, gz, r2)
		o.Spec.CredentialsRef.Name = "bad-credentials"
		h.create(o)
		h.expectReason("web", cvmv1alpha1.ReasonCredentialsInvalid)
		calls := h.emu.Stats().Calls["DescribeImages"]
		Consistently(func() int { return h.emu.Stats().Calls["DescribeImages"] }, 3*time.Second).
			Should(BeNumerically("<=", calls+1), "unchanged bad keys are not sent again and again")
		s := &corev1.Secret{}
		Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "bad-credentials"}, s)).
			To(Succeed())
		s.Data["secretKey"] = []byte(ownerKey)
		Expect(k8sClient.Update(context.Background(), s)).To(Succeed())
		h.expectReason("web", cvmv1alpha1.ReasonShared)
	})

	It("uses the manager's environment credentials without a credentialsRef, and says when there are none", func() {
		h := start(baseSeed(private(imgA, gz)))
		o := h.ims("web", imgA, gz, r2)
		o.Spec.CredentialsRef = nil
		h.create(o)
		h.expectReason("web", cvmv1alpha1.ReasonCredentialsMissing)
	})

	It("Exclusive cancels shares made out of band, on resync", func() {
		h := start(baseSeed(private(imgA, gz, r7)), withResync(2*time.Second))
		o := h.ims("web", imgA, gz, r2)
		o.Spec.Mode = cvmv1alpha1.ModeExclusive
		h.create(o)
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal([]string{r2}))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(h.ownerClient().Share(context.Background(), gz, imgA, []string{r6})).To(Succeed())
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal([]string{r2}))
	})

	It("Merge reports shares made out of band and leaves them alone", func() {
		h := start(baseSeed(private(imgA, gz)), withResync(2*time.Second))
		h.create(h.ims("web", imgA, gz, r2))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(h.ownerClient().Share(context.Background(), gz, imgA, []string{r6})).To(Succeed())
		Eventually(func() []string { return h.get("web").Status.UnmanagedAccountIDs }, wait30).
			Should(Equal([]string{r6}))
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r6)))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
	})

	It("Observe changes nothing and reports drift", func() {
		h := start(baseSeed(private(imgA, gz, r2, r7)))
		o := h.ims("web", imgA, gz, r2, r4)
		o.Spec.Mode = cvmv1alpha1.ModeObserve
		h.create(o)
		o = h.expectReason("web", cvmv1alpha1.ReasonDriftDetected)
		Expect(o.Status.MissingAccountIDs).To(Equal([]string{r4}))
		Expect(o.Status.UnmanagedAccountIDs).To(Equal([]string{r7}))
		Expect(h.modifyCalls()).To(BeZero())
		h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r2, r7} })
		h.expectReason("web", cvmv1alpha1.ReasonInSync)
		Expect(h.modifyCalls()).To(BeZero())
	})

	It("lets two Merge objects share one image without undoing each other", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.create(h.ims("a", imgA, gz, r2, r4))
		h.create(h.ims("b", imgA, gz, r4, r5))
		h.expectReason("a", cvmv1alpha1.ReasonShared)
		h.expectReason("b", cvmv1alpha1.ReasonShared)
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4, r5)))
		h.update("a", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r2} })
		h.expectReason("a", cvmv1alpha1.ReasonShared)
		Consistently(h.sharedWithFn(imgA), time.Second).Should(Equal(sorted(r2, r4, r5)),
			"r4 is still listed by b")
		h.update("b", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r5} })
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal(sorted(r2, r5)))
	})

	It("reports Conflict on every other object of an image with an Exclusive owner", func() {
		h := start(baseSeed(private(imgA, gz)))
		// Creation times have one-second resolution; within a second the name
		// decides, so the names keep the owner older either way.
		o := h.ims("a-owner", imgA, gz, r2)
		o.Spec.Mode = cvmv1alpha1.ModeExclusive
		h.create(o)
		h.expectReason("a-owner", cvmv1alpha1.ReasonShared)
		h.create(h.ims("b-late", imgA, gz, r4))
		o = h.expectReason("b-late", cvmv1alpha1.ReasonConflict)
		Expect(readyMessage(o)).To(ContainSubstring(h.ns + "/a-owner"))
		Expect(h.sharedWith(imgA)).To(Equal([]string{r2}))
	})

	It("cancels managed shares on deletion under Delete, and keeps them under Orphan", func() {
		h := start(baseSeed(private(imgA, gz, r7), private(imgB, gz)))
		h.create(h.ims("del", imgA, gz, r2))
		o := h.ims("orphan", imgB, gz, r4)
		o.Spec.DeletionPolicy = cvmv1alpha1.DeletionPolicyOrphan
		h.create(o)
		h.expectReason("del", cvmv1alpha1.ReasonShared)
		h.expectReason("orphan", cvmv1alpha1.ReasonShared)
		Expect(k8sClient.Delete(context.Background(), h.get("del"))).To(Succeed())
		Expect(k8sClient.Delete(context.Background(), h.get("orphan"))).To(Succeed())
		Eventually(func() bool { return gone(h, "del") && gone(h, "orphan") }, wait30).Should(BeTrue())
		Expect(h.sharedWith(imgA)).To(Equal([]string{r7}), "the unmanaged share stays")
		Expect(h.sharedWith(imgB)).To(Equal([]string{r4}))
	})

	It("releases the finalizer at once when the image is gone", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.create(h.ims("web", imgA, gz, r2))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(h.emu.RemoveImage(imgA)).To(Succeed())
		Expect(k8sClient.Delete(context.Background(), h.get("web"))).To(Succeed())
		Eventually(func() bool { return gone(h, "web") }, wait30).Should(BeTrue())
	})

	It("waits while the image is busy, then shares", func() {
		img := private(imgA, gz)
		img.State = "SYNCING"
		h := start(baseSeed(img))
		h.create(h.ims("web", imgA, gz, r2))
		o := h.expectReason("web", cvmv1alpha1.ReasonImageNotReady)
		Expect(readyMessage(o)).To(ContainSubstring("SYNCING"))
		Expect(h.modifyCalls()).To(BeZero())
		Expect(h.emu.SetImageState(imgA, "NORMAL")).To(Succeed())
		Eventually(h.readyReason("web"), wait30).Should(Equal(cvmv1alpha1.ReasonShared))
		Expect(h.sharedWith(imgA)).To(Equal([]string{r2}))
	})

	It("converges under throttling and internal errors, then stops calling", func() {
		seed := baseSeed(private(imgA, gz), private(imgB, gz), private("img-cccc0003", gz))
		// Every call fails at first, so the faults surely happen; then a third
		// of them, with the server's rate limit on top.
		seed.Faults = emulator.Faults{QPS: 3, ErrorRate: 1}
		h := start(seed)
		h.create(h.ims("a", imgA, gz, r2, r4))
		h.create(h.ims("b", imgB, gz, r4, r5))
		h.create(h.ims("c", "img-cccc0003", gz, r5, r6))
		Eventually(func() int { return h.emu.Stats().Errors["InternalError"] }, wait30).Should(BeNumerically(">=", 3))
		h.emu.SetFaults(emulator.Faults{QPS: 3, ErrorRate: 0.3})
		for _, n := range []string{"a", "b", "c"} {
			Eventually(h.readyReason(n), 90*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		}
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4)))
		Expect(h.sharedWith(imgB)).To(Equal(sorted(r4, r5)))
		Expect(h.sharedWith("img-cccc0003")).To(Equal(sorted(r5, r6)))
		total := func() int {
			n := 0
			for _, c := range h.emu.Stats().Calls {
				n += c
			}
			return n
		}
		before := total()
		Consistently(total, 3*time.Second).Should(Equal(before), "no calls after convergence")
	})

	It("never lets a secret key reach logs, events or status", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.secret("wrong", ownerSecret, "wrong-secret-key-XYZZY")
		o := h.ims("leak", imgA, gz, r2)
		o.Spec.CredentialsRef.Name = "wrong"
		h.create(o)
		h.expectReason("leak", cvmv1alpha1.ReasonCredentialsInvalid)
		h.create(h.ims("ok", imgA, gz, r4))
		h.expectReason("ok", cvmv1alpha1.ReasonShared)
		var evs corev1.EventList
		Expect(k8sClient.List(context.Background(), &evs, client.InNamespace(h.ns))).To(Succeed())
		Expect(evs.Items).NotTo(BeEmpty())
		for _, secret := range []string{"wrong-secret-key-XYZZY", ownerKey} {
			Expect(logs.String()).NotTo(ContainSubstring(secret))
			for _, e := range evs.Items {
				Expect(e.Message).NotTo(ContainSubstring(secret))
			}
			for _, n := range []string{"leak", "ok"} {
				Expect(statusText(h.get(n))).NotTo(ContainSubstring(secret))
			}
		}
	})
})

func readyMessage(o *cvmv1alpha1.ImageShare) string {
	for _, c := range o.Status.Conditions {
		if c.Type == cvmv1alpha1.ConditionReady {
			return c.Message
		}
	}
	return ""
}

func statusText(o *cvmv1alpha1.ImageShare) string {
	s := ""
	for _, c := range o.Status.Conditions {
		s += c.Message + "\n"
	}
	for _, f := range o.Status.FailedAccounts {
		s += f.Message + "\n"
	}
	return s
}

func gone(h *harness, name string) bool {
	err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, &cvmv1alpha1.ImageShare{})
	return apierrors.IsNotFound(err)
}
