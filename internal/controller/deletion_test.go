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
)

func (h *harness) secretObj(name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, s)
	return s, err
}

func (h *harness) goneFn(name string) func() bool { return func() bool { return gone(h, name) } }

var _ = Describe("Deletion always ends", func() {
	r2, r4 := recipients[0], recipients[1]

	It("releases at once an object that manages nothing, credentials or not", func() {
		h := start(baseSeed(private(imgA, gz, r2)))
		o := h.ims("web", imgA, gz, r2)
		o.Spec.CredentialsRef.Name = "absent"
		h.create(o)
		h.expectReason("web", cvmv1alpha1.ReasonCredentialsMissing)
		Expect(k8sClient.Delete(context.Background(), h.get("web"))).To(Succeed())
		Eventually(h.goneFn("web"), 5*time.Second, 100*time.Millisecond).Should(BeTrue())
		Expect(h.sharedWith(imgA)).To(Equal([]string{r2}), "the console's share is not ours to cancel")
	})

	It("holds the Secret while its ImageShares manage shares, so deleting both together cancels them", func() {
		h := start(baseSeed(private(imgA, gz), private(imgB, gz)))
		h.create(h.ims("a", imgA, gz, r2))
		h.create(h.ims("b", imgB, gz, r2, r4))
		h.expectReason("a", cvmv1alpha1.ReasonShared)
		h.expectReason("b", cvmv1alpha1.ReasonShared)
		s, err := h.secretObj("tencent-credentials")
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Finalizers).To(ContainElement(SecretFinalizer))

		By("deleting the Secret and the ImageShares together, as a namespace deletion does")
		Expect(k8sClient.Delete(context.Background(), s)).To(Succeed())
		Expect(k8sClient.DeleteAllOf(context.Background(), &cvmv1alpha1.ImageShare{},
			client.InNamespace(h.ns))).To(Succeed())
		Eventually(h.goneFn("a"), wait30).Should(BeTrue())
		Eventually(h.goneFn("b"), wait30).Should(BeTrue())
		Expect(h.sharedWith(imgA)).To(BeEmpty())
		Expect(h.sharedWith(imgB)).To(BeEmpty())
		Eventually(func() bool {
			_, err := h.secretObj("tencent-credentials")
			return apierrors.IsNotFound(err)
		}, wait30).Should(BeTrue(), "the Secret goes once nothing needs it")
	})

	It("completes when another Merge object lists the same account and the same replica region", func() {
		h := start(replicaSeed(0))
		for _, name := range []string{"one", "two"} {
			o := h.ims(name, imgA, gz, r2)
			o.Spec.ReplicaRegions = []string{sh}
			h.create(o)
		}
		Eventually(h.readyReason("one"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		Eventually(h.readyReason("two"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		Expect(k8sClient.Delete(context.Background(), h.get("one"))).To(Succeed())
		Eventually(h.goneFn("one"), 10*time.Second, 100*time.Millisecond).Should(BeTrue())
		Expect(h.sharedWith(imgA)).To(Equal([]string{r2}))
		Expect(h.sharedWith(h.copyID(imgA, sh))).To(Equal([]string{r2}))

		By("the survivor took the shares over: deleting it cancels them")
		Expect(h.get("two").Status.ManagedAccountIDs).To(Equal([]string{r2}))
		Expect(k8sClient.Delete(context.Background(), h.get("two"))).To(Succeed())
		Eventually(h.goneFn("two"), wait30).Should(BeTrue())
		Expect(h.sharedWith(imgA)).To(BeEmpty())
		Expect(h.sharedWith(h.copyID(imgA, sh))).To(BeEmpty())
	})

	DescribeTable("completes a removed replica region without cancelling under Orphan and Observe",
		func(mode cvmv1alpha1.Mode, policy cvmv1alpha1.DeletionPolicy) {
			h := start(replicaSeed(0))
			o := h.ims("web", imgA, gz, r2)
			o.Spec.ReplicaRegions = []string{sh}
			o.Spec.DeletionPolicy = policy
			h.create(o)
			Eventually(func() string { return h.copyID(imgA, sh) }, wait30).ShouldNot(BeEmpty())
			Eventually(func() int { return len(h.get("web").Status.Regions) }, wait30).Should(Equal(1))
			h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Spec.Mode = mode; o.Spec.ReplicaRegions = nil })
			Eventually(func() int { return len(h.get("web").Status.Regions) }, wait30).Should(BeZero())
			Expect(k8sClient.Delete(context.Background(), h.get("web"))).To(Succeed())
			Eventually(h.goneFn("web"), 10*time.Second).Should(BeTrue())
		},
		Entry("Orphan", cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyOrphan),
		Entry("Observe", cvmv1alpha1.ModeObserve, cvmv1alpha1.DeletionPolicyDelete),
	)

	It("is terminal on an image whose creation failed, and deletes promptly", func() {
		img := private(imgA, gz)
		img.State = "CREATEFAILED"
		h := start(baseSeed(img))
		h.create(h.ims("web", imgA, gz, r2))
		o := h.expectReason("web", cvmv1alpha1.ReasonImageNotShareable)
		Expect(readyMessage(o)).To(ContainSubstring("CREATEFAILED"))
		Expect(k8sClient.Delete(context.Background(), h.get("web"))).To(Succeed())
		Eventually(h.goneFn("web"), 5*time.Second, 100*time.Millisecond).Should(BeTrue())
	})
})

var _ = Describe("Per-account errors stay per account", func() {
	r2, r4, r5 := recipients[0], recipients[1], recipients[2]

	It("keeps cancelling and sharing the others when one account's CANCEL fails, and retries it", func() {
		// A short resync: an account-scoped refusal is retried at the resync, not polled.
		h := start(baseSeed(private(imgA, gz)), withResync(3*time.Second))
		h.create(h.ims("web", imgA, gz, r2, r4))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		h.setIntercept(func(action string, body map[string]any) (string, string) {
			ids, _ := body["AccountIds"].([]any)
			if action == "ModifyImageSharePermission" && body["Permission"] == "CANCEL" && containsAny(ids, r2) {
				return "InvalidAccountId.NotFound", "The account " + r2 + " does not exist"
			}
			return "", ""
		})
		h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r5} })
		o := h.expectReason("web", cvmv1alpha1.ReasonInvalidAccounts)
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r5)), "r4 cancelled and r5 shared despite r2")
		Expect(o.Status.ManagedAccountIDs).To(Equal(sorted(r2, r5)), "the cancel of r2 is still owed")
		Expect(o.Status.FailedAccounts).To(HaveLen(1))
		Expect(o.Status.FailedAccounts[0].AccountID).To(Equal(r2))

		By("the cloud accepts the cancel again: it is retried at the resync")
		h.setIntercept(nil)
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal([]string{r5}))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
	})

	It("backs off and retries a CANCEL that failed for a retryable reason", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.create(h.ims("web", imgA, gz, r2, r4))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		fail := true
		h.setIntercept(func(action string, body map[string]any) (string, string) {
			if fail && action == "ModifyImageSharePermission" && body["Permission"] == "CANCEL" {
				return "FailedOperation.QImageShareFailed", "image sharing failed"
			}
			return "", ""
		})
		h.update("web", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r4, r5} })
		Eventually(h.readyReason("web"), wait30, 100*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonCloudError))
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal(sorted(r2, r4, r5)))
		h.setIntercept(nil)
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal(sorted(r4, r5)))
		h.expectReason("web", cvmv1alpha1.ReasonShared)
	})
})

func containsAny(ids []any, want string) bool {
	for _, id := range ids {
		if id == want {
			return true
		}
	}
	return false
}
