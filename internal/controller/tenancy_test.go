package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// secretIn makes a credentials Secret in namespace ns.
func secretIn(ns, name, id, key string) {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		StringData: map[string]string{"secretId": id, "secretKey": key}}
	Expect(k8sClient.Create(context.Background(), s)).To(Succeed())
}

// imsIn makes an ImageShare in namespace ns (credentialsRef only when secret is set).
func imsIn(ns, name, image, secret string, mode cvmv1alpha1.Mode, accounts ...string) *cvmv1alpha1.ImageShare {
	o := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cvmv1alpha1.ImageShareSpec{ImageID: image, Region: gz, Mode: mode, AccountIDs: accounts}}
	if secret != "" {
		o.Spec.CredentialsRef = &cvmv1alpha1.SecretReference{Name: secret}
	}
	return o
}

func reasonIn(ns, name string) func() string {
	return (&harness{ns: ns}).readyReason(name)
}

var _ = Describe("Tenancy: objects plan together only within one cloud identity", func() {
	r2, r4, r5, r6 := recipients[0], recipients[1], recipients[2], recipients[3]

	It("never acts on one tenant's image with another tenant's plan", func() {
		h := start(baseSeed(private(imgA, gz, r6)), withSecondNamespace())
		h.create(h.ims("owner", imgA, gz, r2))
		h.expectReason("owner", cvmv1alpha1.ReasonShared)

		By("a second tenant with other keys targets the same image id: Exclusive, Observe and keyless objects")
		secretIn(h.ns2, "theirs", "AKIDother0099", "other-secret-key-0099")
		h.create(imsIn(h.ns2, "grab", imgA, "theirs", cvmv1alpha1.ModeExclusive, r4))
		h.create(imsIn(h.ns2, "watch", imgA, "theirs", cvmv1alpha1.ModeObserve, r2))
		h.create(imsIn(h.ns2, "keyless", imgA, "", cvmv1alpha1.ModeMerge, r5))
		Eventually(reasonIn(h.ns2, "grab"), wait30).Should(Equal(cvmv1alpha1.ReasonImageNotFound))
		Eventually(reasonIn(h.ns2, "keyless"), wait30).Should(Equal(cvmv1alpha1.ReasonCredentialsMissing))

		By("the owner's shares are untouched, and the keyless object's account was never shared")
		Consistently(h.sharedWithFn(imgA), 2*time.Second, 100*time.Millisecond).Should(Equal(sorted(r2, r6)))
		Expect(h.readyReason("owner")()).To(Equal(cvmv1alpha1.ReasonShared), "no Conflict from another identity")

		By("the owner drops its account: an Observe object of another identity does not protect it")
		h.update("owner", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r4} })
		Eventually(h.sharedWithFn(imgA), wait30).Should(Equal(sorted(r4, r6)))
		h.expectReason("owner", cvmv1alpha1.ReasonShared)
	})

	It("never lets a read made with one tenant's keys decide another tenant's verdict", func() {
		// imgB belongs to otherOwner and is shared to the owner's account: the
		// owner sees it as SHARED_IMAGE, its real owner as PRIVATE_IMAGE.
		img := private(imgB, gz, ownerID)
		img.Owner = otherOwner
		h := start(baseSeed(img), withSecondNamespace())
		h.create(h.ims("recipient", imgB, gz, r2))
		h.expectReason("recipient", cvmv1alpha1.ReasonImageNotShareable)
		secretIn(h.ns2, "theirs", "AKIDother0099", "other-secret-key-0099")
		h.create(imsIn(h.ns2, "real-owner", imgB, "theirs", cvmv1alpha1.ModeMerge, r4))
		Eventually(reasonIn(h.ns2, "real-owner"), wait30).Should(Equal(cvmv1alpha1.ReasonShared))
		Expect(h.sharedWith(imgB)).To(Equal(sorted(ownerID, r4)))
		Expect(h.readyReason("recipient")()).To(Equal(cvmv1alpha1.ReasonImageNotShareable))
	})

	It("tries rejected credentials again at the resync, without a change to the Secret", func() {
		seed := baseSeed(private(imgA, gz))
		h := start(seed, withResync(3*time.Second))
		h.secret("late", "AKIDlate0001", "late-secret-key-0001")
		o := h.ims("web", imgA, gz, r2)
		o.Spec.CredentialsRef.Name = "late"
		h.create(o)
		h.expectReason("web", cvmv1alpha1.ReasonCredentialsInvalid)

		By("the cloud restarts knowing the key (it propagated late)")
		seed = baseSeed(private(imgA, gz))
		seed.Accounts[0].SecretID, seed.Accounts[0].SecretKey = "AKIDlate0001", "late-secret-key-0001"
		h.restartCloud(seed)
		h.expectReason("web", cvmv1alpha1.ReasonShared)
		Expect(h.sharedWith(imgA)).To(Equal([]string{r2}))
	})

	It("names the action and the policy when a CAM policy denies it", func() {
		seed := baseSeed(private(imgA, gz))
		seed.Accounts[0].DeniedActions = []string{"ModifyImageSharePermission"}
		h := start(seed)
		h.create(h.ims("web", imgA, gz, r2))
		o := h.expectReason("web", cvmv1alpha1.ReasonPermissionDenied)
		Expect(readyMessage(o)).To(ContainSubstring("cvm:ModifyImageSharePermission"))
		Expect(readyMessage(o)).NotTo(ContainSubstring("rejected the credentials"))
		Expect(h.sharedWith(imgA)).To(BeEmpty())
	})
})

var _ = Describe("Verdicts move when the world does", func() {
	r2, r4 := recipients[0], recipients[1]

	It("clears a Conflict as soon as the Exclusive owner goes", func() {
		h := start(baseSeed(private(imgA, gz)))
		// Names in creation order: the owner is older even within one second.
		owner := h.ims("a-owner", imgA, gz, r2)
		owner.Spec.Mode = cvmv1alpha1.ModeExclusive
		owner.Spec.DeletionPolicy = cvmv1alpha1.DeletionPolicyOrphan
		h.create(owner)
		h.expectReason("a-owner", cvmv1alpha1.ReasonShared)
		h.create(h.ims("late", imgA, gz, r4))
		h.expectReason("late", cvmv1alpha1.ReasonConflict)

		By("deleting the owner (Orphan): the other object is Ready within seconds, not at the resync (1h here)")
		Expect(k8sClient.Delete(context.Background(), h.get("a-owner"))).To(Succeed())
		Eventually(h.readyReason("late"), 10*time.Second, 100*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
		Expect(h.sharedWith(imgA)).To(Equal(sorted(r2, r4)))
	})

	It("clears a Conflict as soon as the owner switches to Merge", func() {
		h := start(baseSeed(private(imgA, gz)))
		owner := h.ims("a-owner", imgA, gz, r2)
		owner.Spec.Mode = cvmv1alpha1.ModeExclusive
		h.create(owner)
		h.expectReason("a-owner", cvmv1alpha1.ReasonShared)
		h.create(h.ims("late", imgA, gz, r4))
		h.expectReason("late", cvmv1alpha1.ReasonConflict)
		h.update("a-owner", func(o *cvmv1alpha1.ImageShare) { o.Spec.Mode = cvmv1alpha1.ModeMerge })
		Eventually(h.readyReason("late"), 10*time.Second, 100*time.Millisecond).Should(Equal(cvmv1alpha1.ReasonShared))
	})
})
