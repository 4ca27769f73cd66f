package policy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

const wait = 30 * time.Second

// world is one spec's namespace, holding the owner's credentials.
type world struct{ ns string }

func newWorld() *world {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "imsp-"}}
	Expect(k8sClient.Create(context.Background(), ns)).To(Succeed())
	Expect(k8sClient.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "tencent-credentials", Namespace: ns.Name},
		StringData: map[string]string{"secretId": ownerSecret, "secretKey": ownerKey}})).To(Succeed())
	return &world{ns: ns.Name}
}

func (w *world) policy(name string, spec cvmv1alpha1.ImageSharePolicySpec) *cvmv1alpha1.ImageSharePolicy {
	GinkgoHelper()
	if spec.Region == "" {
		spec.Region = gz
	}
	if spec.CredentialsRef == nil {
		spec.CredentialsRef = &cvmv1alpha1.SecretReference{Name: "tencent-credentials"}
	}
	p := &cvmv1alpha1.ImageSharePolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns}, Spec: spec}
	Expect(k8sClient.Create(context.Background(), p)).To(Succeed())
	DeferCleanup(func() { w.deletePolicy(name) })
	return p
}

// deletePolicy deletes a policy and waits until it and its children are gone.
func (w *world) deletePolicy(name string) {
	GinkgoHelper()
	p := &cvmv1alpha1.ImageSharePolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns}}
	Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), p))).To(Succeed())
	Eventually(func() bool {
		err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(p), p)
		return apierrors.IsNotFound(err)
	}, wait, 200*time.Millisecond).Should(BeTrue(), "the policy was not released")
	Eventually(w.children(name), wait, 200*time.Millisecond).Should(BeEmpty())
}

func (w *world) get(name string) *cvmv1alpha1.ImageSharePolicy {
	GinkgoHelper()
	p := &cvmv1alpha1.ImageSharePolicy{}
	Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, p)).To(Succeed())
	return p
}

// readyReason is the policy's Ready reason once its status is for its generation.
func (w *world) readyReason(name string) func() string {
	return func() string {
		p := w.get(name)
		c := meta.FindStatusCondition(p.Status.Conditions, cvmv1alpha1.ConditionReady)
		if c == nil || p.Status.ObservedGeneration != p.Generation || c.ObservedGeneration != p.Generation {
			return ""
		}
		return string(c.Status) + "/" + c.Reason
	}
}

// children names the policy's children, sorted.
func (w *world) children(policy string) func() []string {
	return func() []string {
		var list cvmv1alpha1.ImageShareList
		Expect(k8sClient.List(context.Background(), &list, client.InNamespace(w.ns),
			client.MatchingLabels{cvmv1alpha1.PolicyLabel: policy})).To(Succeed())
		out := make([]string, 0, len(list.Items))
		for _, c := range list.Items {
			out = append(out, c.Name)
		}
		return out
	}
}

func (w *world) child(name string) *cvmv1alpha1.ImageShare {
	GinkgoHelper()
	c := &cvmv1alpha1.ImageShare{}
	Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, c)).To(Succeed())
	return c
}

// sharedWith is an image's share list as the emulator holds it; nil when the image does not exist.
func sharedWith(id string) func() []string {
	return func() []string {
		for _, img := range emu.State().Images {
			if img.ID == id {
				return img.SharedWith
			}
		}
		return nil
	}
}

func imageExists(id string) bool { return sharedWith(id)() != nil }

// postImage adds a build at runtime through the emulator's HTTP endpoint.
func postImage(id, name string, tags map[string]string) {
	GinkgoHelper()
	tagJSON := make([]string, 0, len(tags))
	for k, v := range tags {
		tagJSON = append(tagJSON, fmt.Sprintf("%q: %q", k, v))
	}
	body := fmt.Sprintf(`{"id": %q, "region": %q, "owner": %q, "name": %q, "tags": {%s}}`, id, gz, ownerID, name,
		strings.Join(tagJSON, ", "))
	resp, err := http.Post(emuURL+"/_emulator/images", "application/json", strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(resp.Body)
	Expect(resp.StatusCode).To(Equal(http.StatusCreated), string(msg))
}

var _ = Describe("ImageSharePolicy", func() {
	It("shares a build added at runtime, and its copy, within one resync, and publishes it", func() {
		w := newWorld()
		w.policy("alpha", cvmv1alpha1.ImageSharePolicySpec{
			Selector: cvmv1alpha1.ImageSelector{NamePrefix: "alpha-"}, AccountIDs: []string{recipientA},
			ReplicaRegions: []string{sh}, Publish: &cvmv1alpha1.PublishSpec{ConfigMapName: "alpha-images"}})
		Eventually(w.readyReason("alpha"), wait, 200*time.Millisecond).Should(Equal("True/Shared"))
		Expect(w.children("alpha")()).To(Equal([]string{"alpha-img-alph0001"}))
		Expect(sharedWith("img-alph0001")()).To(Equal([]string{recipientA}))
		child := w.child("alpha-img-alph0001")
		Expect(child.Labels).To(HaveKeyWithValue(cvmv1alpha1.PolicyLabel, "alpha"))
		Expect(metav1.IsControlledBy(child, w.get("alpha"))).To(BeTrue())
		Expect(child.Spec.ReplicaRegions).To(Equal([]string{sh}))
		Expect(child.Spec.Publish).To(BeNil(), "publish is the policy's own")

		postImage("img-alph0002", "alpha-2", nil)
		Eventually(sharedWith("img-alph0002"), 2*resync+10*time.Second, 200*time.Millisecond).
			Should(Equal([]string{recipientA}))
		Eventually(w.readyReason("alpha"), wait, 200*time.Millisecond).Should(Equal("True/Shared"))
		p := w.get("alpha")
		Expect(p.Status.SelectedCount).To(Equal(int32(2)))
		Expect(p.Status.Images).To(HaveLen(2))
		Expect(p.Status.Images[0].ImageID).To(Equal("img-alph0002"), "newest first")
		Expect(p.Status.Images[0].Ready).To(BeTrue())

		newest := w.child("alpha-img-alph0002")
		Expect(newest.Status.Regions).To(HaveLen(1))
		copyID := newest.Status.Regions[0].ImageID
		Expect(sharedWith(copyID)()).To(Equal([]string{recipientA}), "the copy in %s is shared too", sh)
		Eventually(func() map[string]string {
			cm := &corev1.ConfigMap{}
			if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: "alpha-images"},
				cm); err != nil {
				return nil
			}
			return cm.Data
		}, wait, 200*time.Millisecond).Should(Equal(map[string]string{gz: "img-alph0002", sh: copyID}))
	})

	It("retires the oldest build past keepLatest: its shares cancelled, the image left alone", func() {
		w := newWorld()
		w.policy("beta", cvmv1alpha1.ImageSharePolicySpec{
			Selector: cvmv1alpha1.ImageSelector{Tags: map[string]string{"team": "beta"}}, KeepLatest: 2,
			AccountIDs: []string{recipientA, recipientB}})
		Eventually(w.readyReason("beta"), wait, 200*time.Millisecond).Should(Equal("True/Shared"))
		Expect(w.children("beta")()).To(Equal([]string{"beta-img-beta0001", "beta-img-beta0002"}))
		Expect(sharedWith("img-beta0001")()).To(Equal([]string{recipientA, recipientB}))

		postImage("img-beta0003", "b-3", map[string]string{"team": "beta"})
		Eventually(w.children("beta"), 2*resync+wait, 200*time.Millisecond).
			Should(Equal([]string{"beta-img-beta0002", "beta-img-beta0003"}))
		Eventually(sharedWith("img-beta0001"), wait, 200*time.Millisecond).Should(BeEmpty())
		Expect(imageExists("img-beta0001")).To(BeTrue(), "the policy never deletes an image")
		Eventually(sharedWith("img-beta0003"), wait, 200*time.Millisecond).
			Should(Equal([]string{recipientA, recipientB}))
		Eventually(w.readyReason("beta"), wait, 200*time.Millisecond).Should(Equal("True/Shared"))
		Expect(w.get("beta").Status.SelectedCount).To(Equal(int32(2)))
	})

	It("keeps sharing and publishing the old build until the new one is shared (keepLatest 1)", func() {
		w := newWorld()
		w.policy("delta", cvmv1alpha1.ImageSharePolicySpec{
			Selector: cvmv1alpha1.ImageSelector{NamePrefix: "delta-"}, KeepLatest: 1,
			AccountIDs: []string{recipientA}, ReplicaRegions: []string{sh},
			Publish: &cvmv1alpha1.PublishSpec{ConfigMapName: "delta-images"}})
		Eventually(w.readyReason("delta"), wait, 200*time.Millisecond).Should(Equal("True/NoImagesSelected"))
		cm := func() map[string]string {
			c := &corev1.ConfigMap{}
			if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: "delta-images"},
				c); err != nil {
				Expect(apierrors.IsNotFound(err)).To(BeTrue())
				return nil
			}
			return c.Data
		}
		Expect(cm()).To(BeNil(), "nothing selected: no ConfigMap, never an empty one")

		postImage("img-delt0001", "delta-1", nil)
		Eventually(cm, 2*resync+wait, 200*time.Millisecond).Should(HaveKeyWithValue(gz, "img-delt0001"))
		Eventually(func() int { return len(cm()) }, wait, 200*time.Millisecond).Should(Equal(2))

		postImage("img-delt0002", "delta-2", nil)
		readyChild := func(name string) bool {
			c := &cvmv1alpha1.ImageShare{}
			if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, c); err != nil {
				return false
			}
			r := meta.FindStatusCondition(c.Status.Conditions, cvmv1alpha1.ConditionReady)
			return r != nil && r.Status == metav1.ConditionTrue && c.Status.ObservedGeneration == c.Generation &&
				c.DeletionTimestamp == nil
		}
		// Until the old build's child goes, check at every poll that the new one was Ready before.
		Eventually(func(g Gomega) {
			old := &cvmv1alpha1.ImageShare{}
			err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: "delta-img-delt0001"},
				old)
			Expect(client.IgnoreNotFound(err)).To(Succeed())
			gone := apierrors.IsNotFound(err) || old.DeletionTimestamp != nil
			data := cm()
			Expect(data).NotTo(BeEmpty(), "the published map is never blanked")
			newReady := readyChild("delta-img-delt0002") // read last: what was true before still holds
			if gone {
				Expect(newReady).To(BeTrue(), "the old build was retired before the new one was shared")
			}
			if data[gz] == "img-delt0002" {
				Expect(newReady).To(BeTrue(), "the new build was published before it was shared")
			}
			g.Expect(gone).To(BeTrue())
		}, 2*resync+wait, 100*time.Millisecond).Should(Succeed())
		Eventually(w.children("delta"), wait, 200*time.Millisecond).Should(Equal([]string{"delta-img-delt0002"}))
		Eventually(sharedWith("img-delt0001"), wait, 200*time.Millisecond).Should(BeEmpty())
		Eventually(cm, wait, 200*time.Millisecond).Should(And(HaveKeyWithValue(gz, "img-delt0002"), HaveLen(2)))
		Expect(cm()[sh]).To(Equal(w.child("delta-img-delt0002").Status.Regions[0].ImageID))
	})

	It("is Ready with reason NoImagesSelected when nothing matches", func() {
		w := newWorld()
		w.policy("none", cvmv1alpha1.ImageSharePolicySpec{
			Selector: cvmv1alpha1.ImageSelector{NamePrefix: "no-such-build-"}, AccountIDs: []string{recipientA}})
		Eventually(w.readyReason("none"), wait, 200*time.Millisecond).Should(Equal("True/NoImagesSelected"))
		p := w.get("none")
		Expect(p.Status.SelectedCount).To(BeZero())
		Expect(meta.FindStatusCondition(p.Status.Conditions, cvmv1alpha1.ConditionStalled)).To(BeNil())
		Expect(meta.FindStatusCondition(p.Status.Conditions, cvmv1alpha1.ConditionReconciling)).To(BeNil())
		Expect(w.children("none")()).To(BeEmpty())
	})

	It("skips images that are not NORMAL and, when deleted, deletes its children and cancels their shares", func() {
		w := newWorld()
		w.policy("gamma", cvmv1alpha1.ImageSharePolicySpec{
			Selector: cvmv1alpha1.ImageSelector{NamePrefix: "gamma-"}, AccountIDs: []string{recipientB}})
		Eventually(w.readyReason("gamma"), wait, 200*time.Millisecond).Should(Equal("True/Shared"))
		Expect(w.children("gamma")()).To(Equal([]string{"gamma-img-gamm0001", "gamma-img-gamm0002"}),
			"the CREATING image is not selected")
		Expect(sharedWith("img-gamm0002")()).To(Equal([]string{recipientB}))

		w.deletePolicy("gamma")
		Expect(sharedWith("img-gamm0001")()).To(BeEmpty())
		Expect(sharedWith("img-gamm0002")()).To(BeEmpty())
		Expect(imageExists("img-gamm0001")).To(BeTrue())
		Expect(imageExists("img-gamm0002")).To(BeTrue())
	})

	It("is Stalled with CredentialsMissing when the Secret does not exist, and creates no child", func() {
		w := newWorld()
		w.policy("nokeys", cvmv1alpha1.ImageSharePolicySpec{
			Selector:       cvmv1alpha1.ImageSelector{NamePrefix: "alpha-"},
			CredentialsRef: &cvmv1alpha1.SecretReference{Name: "missing"}})
		Eventually(w.readyReason("nokeys"), wait, 200*time.Millisecond).Should(Equal("False/CredentialsMissing"))
		p := w.get("nokeys")
		Expect(meta.IsStatusConditionTrue(p.Status.Conditions, cvmv1alpha1.ConditionStalled)).To(BeTrue())
		Expect(w.children("nokeys")()).To(BeEmpty())
	})
})
