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

package v1alpha1_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// Admission of the issue #15 fields: ImageSharePolicy, and accountsFrom,
// expiresAt and publish on ImageShare.

const dateTimeRule = "must be of type date-time"

// validPolicySpec is a policy spec the API server accepts, as plain JSON.
func validPolicySpec() map[string]any {
	return map[string]any{
		"region":         validRegion,
		"selector":       map[string]any{"namePrefix": "golden-ubuntu-", "tags": map[string]any{"team": "platform"}},
		"keepLatest":     int64(3),
		"accountIds":     []any{accountA},
		"accountsFrom":   []any{map[string]any{"configMapKeyRef": map[string]any{"name": "accounts", "key": "ids"}}},
		"replicaRegions": []any{"ap-shanghai"},
		"credentialsRef": map[string]any{"name": "tencent-credentials"},
		"expiresAt":      "2027-03-31T00:00:00Z",
		"publish":        map[string]any{"configMapName": "app-base-images"},
	}
}

// createKind sends spec as it is for kind, named name (generated when empty).
func createKind(kind, name string, spec map[string]any) error {
	meta := map[string]any{"generateName": "bad-", "namespace": testNamespace}
	if name != "" {
		meta = map[string]any{"name": name, "namespace": testNamespace}
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cvmv1alpha1.GroupVersion.String(), "kind": kind, "metadata": meta, "spec": spec,
	}}
	err := k8sClient.Create(ctx, obj)
	if err == nil {
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, obj)).To(Succeed()) })
	}
	return err
}

var _ = Describe("ImageSharePolicy admission", func() {
	It("accepts a full policy and fills in the ImageShare defaults", func() {
		Expect(createKind("ImageSharePolicy", "golden", validPolicySpec())).To(Succeed())
		stored := &cvmv1alpha1.ImageSharePolicy{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: testNamespace, Name: "golden"}, stored)).To(Succeed())
		Expect(stored.Spec.KeepLatest).To(Equal(int32(3)))
		Expect(stored.Spec.Selector.Tags).To(Equal(map[string]string{"team": "platform"}))
		Expect(stored.Spec.Mode).To(Equal(cvmv1alpha1.ModeMerge))
		Expect(stored.Spec.DeletionPolicy).To(Equal(cvmv1alpha1.DeletionPolicyDelete))
		Expect(stored.Spec.CopyDeletionPolicy).To(Equal(cvmv1alpha1.CopyDeletionPolicyRetain))
		Expect(stored.Spec.ExpiresAt.Time).To(BeTemporally("==", time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)))
		Expect(stored.Spec.Publish.ConfigMapName).To(Equal("app-base-images"))
		Expect(stored.Status.ObservedGeneration).To(Equal(int64(-1)))
	})

	DescribeTable("accepts a selector with either part",
		func(selector map[string]any) {
			spec := validPolicySpec()
			spec["selector"] = selector
			Expect(createKind("ImageSharePolicy", "", spec)).To(Succeed())
		},
		Entry("namePrefix only", map[string]any{"namePrefix": "golden-"}),
		Entry("tags only", map[string]any{"tags": map[string]any{"team": "platform"}}),
	)

	It("accepts keepLatest 0 (every image)", func() {
		spec := validPolicySpec()
		spec["keepLatest"] = int64(0)
		Expect(createKind("ImageSharePolicy", "", spec)).To(Succeed())
	})

	DescribeTable("rejects an invalid policy",
		func(name string, mutate func(map[string]any), field, rule string) {
			spec := validPolicySpec()
			mutate(spec)
			expectRejected(createKind("ImageSharePolicy", name, spec), field, rule)
		},
		Entry("negative keepLatest", "", func(s map[string]any) { s["keepLatest"] = int64(-1) },
			"spec.keepLatest", "keepLatest must be 0 (all images) or more"),
		Entry("empty selector", "", func(s map[string]any) { s["selector"] = map[string]any{} },
			"spec.selector", "selector must set namePrefix or tags"),
		Entry("selector with empty parts", "", func(s map[string]any) {
			s["selector"] = map[string]any{"namePrefix": "", "tags": map[string]any{}}
		}, "spec.selector", "selector must set namePrefix or tags"),
		Entry("no selector", "", func(s map[string]any) { delete(s, "selector") },
			"spec.selector", requiredRule),
		Entry("no region", "", func(s map[string]any) { delete(s, "region") }, "spec.region", requiredRule),
		Entry("malformed region", "", func(s map[string]any) { s["region"] = "Guangzhou" },
			"spec.region", regionRule),
		Entry("expiresAt not a date-time", "", func(s map[string]any) { s["expiresAt"] = "next tuesday" },
			"spec.expiresAt", dateTimeRule),
		Entry("expiresAt a date only", "", func(s map[string]any) { s["expiresAt"] = "2027-03-31" },
			"spec.expiresAt", dateTimeRule),
		Entry("malformed account", "", func(s map[string]any) { s["accountIds"] = []any{"12"} },
			"spec.accountIds[0]", accountIDRule),
		Entry("unknown mode", "", func(s map[string]any) { s["mode"] = "Mirror" }, "spec.mode", modeRule),
		Entry("accountsFrom without a key", "", func(s map[string]any) {
			s["accountsFrom"] = []any{map[string]any{"configMapKeyRef": map[string]any{"name": "accounts"}}}
		}, "spec.accountsFrom[0].configMapKeyRef.key", requiredRule),
		Entry("publish without a name", "", func(s map[string]any) { s["publish"] = map[string]any{} },
			"spec.publish.configMapName", requiredRule),
		Entry("replicaRegions naming the source region", "", func(s map[string]any) {
			s["replicaRegions"] = []any{"ap-shanghai", validRegion}
		}, "spec", "replicaRegions must not contain the source region"),
		Entry("a name too long for the policy label", strings.Repeat("p", 64), func(map[string]any) {},
			"<nil>", "metadata.name must be at most 63 characters"),
	)
})

var _ = Describe("ImageShare issue #15 fields", func() {
	It("stores accountsFrom, expiresAt and publish as sent", func() {
		is := newImageShare("fields")
		at := metav1.NewTime(time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC))
		is.Spec.AccountsFrom = []cvmv1alpha1.AccountsSource{
			{ConfigMapKeyRef: cvmv1alpha1.ConfigMapKeyReference{Name: "platform-accounts", Key: "accounts"}}}
		is.Spec.ExpiresAt = &at
		is.Spec.Publish = &cvmv1alpha1.PublishSpec{ConfigMapName: "web-base-images"}
		Expect(k8sClient.Create(ctx, is)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, is)).To(Succeed()) })

		stored := &cvmv1alpha1.ImageShare{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(is), stored)).To(Succeed())
		Expect(stored.Spec.AccountsFrom).To(Equal(is.Spec.AccountsFrom))
		Expect(stored.Spec.ExpiresAt.Time).To(BeTemporally("==", at.Time))
		Expect(stored.Spec.Publish).To(Equal(is.Spec.Publish))
	})

	DescribeTable("rejects invalid values",
		func(mutate func(map[string]any), field, rule string) {
			spec := validSpec()
			mutate(spec)
			expectRejected(createUnstructured(spec), field, rule)
		},
		Entry("expiresAt not a date-time", func(s map[string]any) { s["expiresAt"] = "2027-31-03T00:00:00Z" },
			"spec.expiresAt", dateTimeRule),
		Entry("accountsFrom without configMapKeyRef", func(s map[string]any) {
			s["accountsFrom"] = []any{map[string]any{}}
		}, "spec.accountsFrom[0].configMapKeyRef", requiredRule),
		Entry("accountsFrom with an empty name", func(s map[string]any) {
			s["accountsFrom"] = []any{map[string]any{"configMapKeyRef": map[string]any{"name": "", "key": "k"}}}
		}, "spec.accountsFrom[0].configMapKeyRef.name", nonEmptyRule),
		Entry("publish to an invalid ConfigMap name", func(s map[string]any) {
			s["publish"] = map[string]any{"configMapName": "Web_Base"}
		}, "spec.publish.configMapName", "should match"),
	)
})
