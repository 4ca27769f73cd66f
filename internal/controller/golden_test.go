package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// configMap creates or replaces a ConfigMap in the harness namespace.
func (h *harness) configMap(name string, data map[string]string) {
	GinkgoHelper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name}}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), cm); err == nil {
		cm.Data = data
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		return
	}
	cm.Data = data
	Expect(k8sClient.Create(ctx, cm)).To(Succeed())
}

var _ = Describe("Golden-image fields: accountsFrom, expiresAt, publish, forced reads", func() {
	r2, r4, r5, r6 := recipients[0], recipients[1], recipients[2], recipients[3]
	const imgC = "img-cccc0003"

	It("keeps one account list in a ConfigMap for three ImageShares, and freezes them when it goes", func() {
		h := start(baseSeed(private(imgA, gz), private(imgB, gz), private(imgC, gz)))
		h.configMap("consumers", map[string]string{"ids": "# teams\n" + r4 + "\n" + r5 + "\n"})
		for name, img := range map[string]string{"a": imgA, "b": imgB, "c": imgC} {
			o := h.ims(name, img, gz, r2)
			o.Spec.AccountsFrom = []cvmv1alpha1.AccountsSource{{ConfigMapKeyRef: cvmv1alpha1.ConfigMapKeyReference{
				Name: "consumers", Key: "ids"}}}
			h.create(o)
		}
		for _, name := range []string{"a", "b", "c"} {
			Expect(h.expectReason(name, cvmv1alpha1.ReasonShared).Status.ListedAccounts).To(BeEquivalentTo(3))
		}
		for _, img := range []string{imgA, imgB, imgC} {
			Expect(h.sharedWith(img)).To(Equal(sorted(r2, r4, r5)))
		}

		By("an edit of the ConfigMap adds r6 and removes r5 everywhere, without a resync")
		h.configMap("consumers", map[string]string{"ids": r4 + "\n" + r6 + "\n"})
		for _, img := range []string{imgA, imgB, imgC} {
			Eventually(h.sharedWithFn(img), wait30, 100*time.Millisecond).Should(Equal(sorted(r2, r4, r6)))
		}

		By("the ConfigMap is deleted: every object is frozen, nothing is cancelled")
		Expect(k8sClient.Delete(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Namespace: h.ns, Name: "consumers"}})).To(Succeed())
		calls := h.modifyCalls()
		for _, name := range []string{"a", "b", "c"} {
			Eventually(func() string {
				c := h.get(name).Status.Conditions
				for _, x := range c {
					if x.Type == cvmv1alpha1.ConditionReady {
						return x.Reason
					}
				}
				return ""
			}, wait30, 100*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonAccountsSourceNotFound))
		}
		Expect(readyMessage(h.get("a"))).To(ContainSubstring("consumers"))
		Expect(h.modifyCalls()).To(Equal(calls))
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4, r6)))
	})

	It("cancels at expiresAt, reports Expired, and shares again when it moves into the future", func() {
		h := start(baseSeed(private(imgA, gz)))
		o := h.ims("web", imgA, gz, r2, r4)
		o.Spec.ExpiresAt = &metav1.Time{Time: time.Now().Add(4 * time.Second).Truncate(time.Second)}
		h.create(o)
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4)))

		Eventually(h.sharedWithFn(imgA), 20*time.Second, 100*time.Millisecond).Should(BeEmpty())
		got := h.expectReason("web", cvmv1alpha1.ReasonExpired)
		Expect(got.Status.ExpiresAt).NotTo(BeNil())
		Expect(got.Status.ManagedAccountIDs).To(BeEmpty())

		h.update("web", func(o *cvmv1alpha1.ImageShare) {
			o.Spec.ExpiresAt = &metav1.Time{Time: time.Now().Add(time.Hour).Truncate(time.Second)}
		})
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4)))
	})

	It("publishes the image and its copy per region in a ConfigMap it owns", func() {
		h := start(replicaSeed(0))
		o := h.ims("web", imgA, gz, r2)
		o.Spec.ReplicaRegions = []string{sh}
		o.Spec.Publish = &cvmv1alpha1.PublishSpec{ConfigMapName: "app-base-images"}
		h.create(o)
		Eventually(h.readyReason("web"), 60*time.Second, 200*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		copyID := h.copyID(imgA, sh)
		cm := &corev1.ConfigMap{}
		Eventually(func() map[string]string {
			_ = k8sClient.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "app-base-images"}, cm)
			return cm.Data
		}, wait30, 100*time.Millisecond).Should(Equal(map[string]string{gz: imgA, sh: copyID}))
		Expect(metav1.IsControlledBy(cm, h.get("web"))).To(BeTrue())
	})

	It("reads the cloud afresh when reconcile-requested-at changes, and echoes it", func() {
		h := start(baseSeed(private(imgA, gz)))
		h.create(h.ims("web", imgA, gz, r2))
		h.expectReason("web", cvmv1alpha1.ReasonShared)

		By("someone cancels the share in the console; the resync is an hour away")
		Expect(h.ownerClient().Cancel(context.Background(), gz, imgA, []string{r2})).To(Succeed())
		// Long enough that the last read is no longer fresh for a forced one.
		Consistently(h.sharedWithFn(imgA), minForcedReadInterval, 200*time.Millisecond).Should(BeEmpty())

		h.update("web", func(o *cvmv1alpha1.ImageShare) {
			o.Annotations = map[string]string{ReconcileRequestedAnnotation: "now-1"}
		})
		Eventually(h.sharedWithFn(imgA), wait30, 100*time.Millisecond).Should(Equal([]string{r2}))
		Eventually(func() string { return h.get("web").Status.LastHandledReconcileAt }, wait30).Should(Equal("now-1"))
	})
})
