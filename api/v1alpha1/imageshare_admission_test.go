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
	"errors"
	"fmt"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

const (
	validImageID = "img-aaaa0001"
	validRegion  = "ap-guangzhou"
	accountA     = "100000000002"
	accountB     = "100000000004"

	imageIDRule   = "should match '^img-[a-z0-9]{8}$'"
	regionRule    = "should match '^[a-z]{2,}(-[a-z0-9]+)+$'"
	accountIDRule = "should match '^[1-9][0-9]{4,19}$'"
	requiredRule  = "Required value"
	stringRule    = "must be of type string"
	nonEmptyRule  = "should be at least 1 chars long"
	modeRule      = `supported values: "Merge", "Exclusive", "Observe"`
	policyRule    = `supported values: "Delete", "Orphan"`
)

// validSpec is a spec the API server accepts, as plain JSON so that a bad input
// can remove a field or give it a value of the wrong type, which a typed Go
// object cannot express.
func validSpec() map[string]any {
	return map[string]any{
		"imageId":        validImageID,
		"region":         validRegion,
		"accountIds":     []any{accountA, accountB},
		"mode":           "Merge",
		"deletionPolicy": "Delete",
		"credentialsRef": map[string]any{"name": "tencent-credentials"},
	}
}

// accountIDs returns n distinct valid account IDs.
func accountIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(100000000000 + i)
	}
	return ids
}

// jsonList turns IDs into the []any an unstructured object must hold.
func jsonList(ids []string) []any {
	list := make([]any, len(ids))
	for i, id := range ids {
		list[i] = id
	}
	return list
}

// newImageShare is a valid typed object with a unique name.
func newImageShare(prefix string) *cvmv1alpha1.ImageShare {
	return &cvmv1alpha1.ImageShare{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Namespace: testNamespace},
		Spec: cvmv1alpha1.ImageShareSpec{
			ImageID:        validImageID,
			Region:         validRegion,
			AccountIDs:     []string{accountA, accountB},
			CredentialsRef: &cvmv1alpha1.SecretReference{Name: "tencent-credentials"},
		},
	}
}

// createUnstructured sends spec as it is, the way kubectl apply would.
func createUnstructured(spec map[string]any) error {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cvmv1alpha1.GroupVersion.String(),
		"kind":       "ImageShare",
		"metadata":   map[string]any{"generateName": "bad-", "namespace": testNamespace},
	}}
	if spec != nil {
		obj.Object["spec"] = spec
	}
	err := k8sClient.Create(ctx, obj)
	if err == nil {
		// Leave no accepted object behind to confuse the next entry.
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, obj)).To(Succeed()) })
	}
	return err
}

// expectRejected asserts that the API server refused the request as invalid with
// a cause for field whose message states rule, and that the error a user sees
// (what kubectl prints) names both.
func expectRejected(err error, field, rule string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred(), "the API server accepted an input it must reject")
	Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got %v", err)
	_, _ = fmt.Fprintf(GinkgoWriter, "API server said: %s\n", err)

	var status apierrors.APIStatus
	Expect(errors.As(err, &status)).To(BeTrue())
	details := status.Status().Details
	Expect(details).NotTo(BeNil())
	Expect(details.Causes).To(ContainElement(SatisfyAll(
		HaveField("Field", field),
		HaveField("Message", ContainSubstring(rule)),
	)), "causes: %+v", details.Causes)

	Expect(err.Error()).To(ContainSubstring(field + ": "))
	Expect(err.Error()).To(ContainSubstring(rule))
}

var _ = Describe("ImageShare admission", func() {
	It("accepts a valid ImageShare and stores it as sent", func() {
		is := newImageShare("valid")
		Expect(k8sClient.Create(ctx, is)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, is)).To(Succeed()) })

		stored := &cvmv1alpha1.ImageShare{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(is), stored)).To(Succeed())
		Expect(stored.Spec.ImageID).To(Equal(validImageID))
		Expect(stored.Spec.Region).To(Equal(validRegion))
		// Order matters: the first IDs win when the share limit does not fit them all.
		Expect(stored.Spec.AccountIDs).To(Equal([]string{accountA, accountB}))
		Expect(stored.Spec.CredentialsRef).To(Equal(&cvmv1alpha1.SecretReference{Name: "tencent-credentials"}))
	})

	It("fills in mode Merge and deletionPolicy Delete when they are left out", func() {
		is := newImageShare("defaults")
		Expect(is.Spec.Mode).To(BeEmpty())
		Expect(is.Spec.DeletionPolicy).To(BeEmpty())
		Expect(k8sClient.Create(ctx, is)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, is)).To(Succeed()) })

		stored := &cvmv1alpha1.ImageShare{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(is), stored)).To(Succeed())
		Expect(stored.Spec.Mode).To(Equal(cvmv1alpha1.ModeMerge))
		Expect(stored.Spec.DeletionPolicy).To(Equal(cvmv1alpha1.DeletionPolicyDelete))
	})

	DescribeTable("accepts every valid variant",
		func(mutate func(*cvmv1alpha1.ImageShareSpec)) {
			is := newImageShare("variant")
			mutate(&is.Spec)
			want := is.Spec.DeepCopy()
			// The server fills in the defaults; the defaults spec above checks them.
			if want.Mode == "" {
				want.Mode = cvmv1alpha1.ModeMerge
			}
			if want.DeletionPolicy == "" {
				want.DeletionPolicy = cvmv1alpha1.DeletionPolicyDelete
			}
			if want.CopyDeletionPolicy == "" {
				want.CopyDeletionPolicy = cvmv1alpha1.CopyDeletionPolicyRetain
			}
			Expect(k8sClient.Create(ctx, is)).To(Succeed())
			DeferCleanup(func() { Expect(k8sClient.Delete(ctx, is)).To(Succeed()) })

			stored := &cvmv1alpha1.ImageShare{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(is), stored)).To(Succeed())
			Expect(stored.Spec).To(Equal(*want))
		},
		Entry("mode Exclusive, deletionPolicy Orphan", func(s *cvmv1alpha1.ImageShareSpec) {
			s.Mode, s.DeletionPolicy = cvmv1alpha1.ModeExclusive, cvmv1alpha1.DeletionPolicyOrphan
		}),
		Entry("mode Observe, deletionPolicy Delete", func(s *cvmv1alpha1.ImageShareSpec) {
			s.Mode, s.DeletionPolicy = cvmv1alpha1.ModeObserve, cvmv1alpha1.DeletionPolicyDelete
		}),
		Entry("mode Merge, deletionPolicy Orphan", func(s *cvmv1alpha1.ImageShareSpec) {
			s.Mode, s.DeletionPolicy = cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyOrphan
		}),
		Entry("no accountIds (share with nobody)", func(s *cvmv1alpha1.ImageShareSpec) {
			s.AccountIDs = nil
		}),
		Entry("the shortest and longest account IDs (5 and 20 digits)", func(s *cvmv1alpha1.ImageShareSpec) {
			s.AccountIDs = []string{"10000", "99999999999999999999"}
		}),
		Entry("replicaRegions with copyDeletionPolicy Delete", func(s *cvmv1alpha1.ImageShareSpec) {
			s.ReplicaRegions = []string{"ap-shanghai", "ap-beijing"}
			s.CopyDeletionPolicy = cvmv1alpha1.CopyDeletionPolicyDelete
		}),
		Entry("no credentialsRef (the manager's own environment)", func(s *cvmv1alpha1.ImageShareSpec) {
			s.CredentialsRef = nil
		}),
		Entry("credentialsRef with a roleArn by role name", func(s *cvmv1alpha1.ImageShareSpec) {
			s.CredentialsRef.RoleArn = "qcs::cam::uin/100000000001:roleName/imageshare-operator"
		}),
		Entry("credentialsRef with a roleArn by role ID", func(s *cvmv1alpha1.ImageShareSpec) {
			s.CredentialsRef.RoleArn = "qcs::cam::uin/100000000001:role/4611686018427397919"
		}),
		Entry("a region with a longer name", func(s *cvmv1alpha1.ImageShareSpec) {
			s.Region = "na-siliconvalley"
		}),
		Entry("a three-part region (finance zone)", func(s *cvmv1alpha1.ImageShareSpec) {
			s.Region = "ap-shanghai-fsi"
		}),
		Entry("an image ID of digits only", func(s *cvmv1alpha1.ImageShareSpec) {
			s.ImageID = "img-01234567"
		}),
	)

	It("accepts 500 account IDs, the API's own cap", func() {
		is := newImageShare("max")
		is.Spec.AccountIDs = accountIDs(cvmv1alpha1.MaxAccounts)
		Expect(k8sClient.Create(ctx, is)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, is)).To(Succeed()) })

		stored := &cvmv1alpha1.ImageShare{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(is), stored)).To(Succeed())
		Expect(stored.Spec.AccountIDs).To(HaveLen(cvmv1alpha1.MaxAccounts))
	})

	DescribeTable("rejects a bad input with a message naming the field and the rule",
		func(mutate func(spec map[string]any), field, rule string) {
			spec := validSpec()
			mutate(spec)
			expectRejected(createUnstructured(spec), field, rule)
		},
		// imageId
		Entry("imageId missing", func(s map[string]any) { delete(s, "imageId") },
			"spec.imageId", requiredRule),
		Entry("imageId empty", func(s map[string]any) { s["imageId"] = "" },
			"spec.imageId", imageIDRule),
		Entry("imageId too short", func(s map[string]any) { s["imageId"] = "img-6pb6lrm" },
			"spec.imageId", imageIDRule),
		Entry("imageId too long", func(s map[string]any) { s["imageId"] = "img-6pb6lrmy0" },
			"spec.imageId", imageIDRule),
		Entry("imageId in upper case", func(s map[string]any) { s["imageId"] = "img-6PB6LRMY" },
			"spec.imageId", imageIDRule),
		Entry("imageId without the img- prefix", func(s map[string]any) { s["imageId"] = "6pb6lrmy" },
			"spec.imageId", imageIDRule),
		Entry("imageId with another prefix", func(s map[string]any) { s["imageId"] = "ins-6pb6lrmy" },
			"spec.imageId", imageIDRule),
		Entry("imageId with an underscore", func(s map[string]any) { s["imageId"] = "img_6pb6lrmy" },
			"spec.imageId", imageIDRule),
		Entry("imageId with a trailing space", func(s map[string]any) { s["imageId"] = "img-6pb6lrmy " },
			"spec.imageId", imageIDRule),
		Entry("imageId with a trailing newline", func(s map[string]any) { s["imageId"] = "img-6pb6lrmy\n" },
			"spec.imageId", imageIDRule),
		Entry("imageId not a string", func(s map[string]any) { s["imageId"] = int64(12345678) },
			"spec.imageId", stringRule),

		// region
		Entry("region missing", func(s map[string]any) { delete(s, "region") },
			"spec.region", requiredRule),
		Entry("region empty", func(s map[string]any) { s["region"] = "" },
			"spec.region", nonEmptyRule),
		Entry("region without a hyphen", func(s map[string]any) { s["region"] = "guangzhou" },
			"spec.region", regionRule),
		Entry("region in upper case", func(s map[string]any) { s["region"] = "AP-Guangzhou" },
			"spec.region", regionRule),
		Entry("region with an underscore", func(s map[string]any) { s["region"] = "ap_guangzhou" },
			"spec.region", regionRule),
		Entry("region with a trailing hyphen", func(s map[string]any) { s["region"] = "ap-guangzhou-" },
			"spec.region", regionRule),
		Entry("region with a space", func(s map[string]any) { s["region"] = "ap guangzhou" },
			"spec.region", regionRule),
		Entry("region too long", func(s map[string]any) { s["region"] = "ap-" + strings.Repeat("a", 30) },
			"spec.region", "Too long"),

		// accountIds
		Entry("account ID of 4 digits", func(s map[string]any) { s["accountIds"] = []any{"1234"} },
			"spec.accountIds[0]", accountIDRule),
		Entry("account ID of 21 digits", func(s map[string]any) {
			s["accountIds"] = []any{accountA, "123456789012345678901"}
		}, "spec.accountIds[1]", accountIDRule),
		Entry("account ID with a leading zero", func(s map[string]any) { s["accountIds"] = []any{"0100000000002"} },
			"spec.accountIds[0]", accountIDRule),
		Entry("account ID with a letter", func(s map[string]any) { s["accountIds"] = []any{"10000000000a"} },
			"spec.accountIds[0]", accountIDRule),
		Entry("account ID of letters", func(s map[string]any) { s["accountIds"] = []any{"alice"} },
			"spec.accountIds[0]", accountIDRule),
		Entry("account ID negative", func(s map[string]any) { s["accountIds"] = []any{"-100000000002"} },
			"spec.accountIds[0]", accountIDRule),
		Entry("account ID with spaces", func(s map[string]any) { s["accountIds"] = []any{" 100000000002"} },
			"spec.accountIds[0]", accountIDRule),
		Entry("account ID empty", func(s map[string]any) { s["accountIds"] = []any{""} },
			"spec.accountIds[0]", accountIDRule),
		Entry("account ID as a YAML number, not a string", func(s map[string]any) {
			s["accountIds"] = []any{int64(100000000002)}
		}, "spec.accountIds[0]", stringRule),
		Entry("duplicate account ID", func(s map[string]any) {
			s["accountIds"] = []any{accountA, accountB, accountA}
		}, "spec.accountIds[2]", `Duplicate value: "100000000002"`),
		Entry("501 account IDs", func(s map[string]any) {
			s["accountIds"] = jsonList(accountIDs(cvmv1alpha1.MaxAccounts + 1))
		}, "spec.accountIds", "must have at most 500 items"),

		// mode and deletionPolicy
		Entry("unknown mode", func(s map[string]any) { s["mode"] = "Replace" },
			"spec.mode", modeRule),
		Entry("mode in lower case", func(s map[string]any) { s["mode"] = "merge" },
			"spec.mode", modeRule),
		Entry("mode empty", func(s map[string]any) { s["mode"] = "" },
			"spec.mode", modeRule),
		Entry("unknown deletionPolicy", func(s map[string]any) { s["deletionPolicy"] = "Retain" },
			"spec.deletionPolicy", policyRule),
		Entry("deletionPolicy in lower case", func(s map[string]any) { s["deletionPolicy"] = "orphan" },
			"spec.deletionPolicy", policyRule),

		// replicaRegions
		Entry("replicaRegions naming the source region", func(s map[string]any) {
			s["replicaRegions"] = []any{"ap-shanghai", s["region"]}
		}, "spec", "replicaRegions must not contain the source region"),
		Entry("replicaRegions with a duplicate", func(s map[string]any) {
			s["replicaRegions"] = []any{"ap-shanghai", "ap-shanghai"}
		}, "spec.replicaRegions[1]", "Duplicate value"),
		Entry("replicaRegions with a malformed region", func(s map[string]any) {
			s["replicaRegions"] = []any{"Shanghai"}
		}, "spec.replicaRegions[0]", "should match"),
		Entry("more than 20 replicaRegions", func(s map[string]any) {
			regions := make([]any, 0, 21)
			for i := range 21 {
				regions = append(regions, fmt.Sprintf("ap-region%d", i))
			}
			s["replicaRegions"] = regions
		}, "spec.replicaRegions", "must have at most 20 items"),
		Entry("unknown copyDeletionPolicy", func(s map[string]any) { s["copyDeletionPolicy"] = "Orphan" },
			"spec.copyDeletionPolicy", "supported values"),

		// credentialsRef
		Entry("credentialsRef without name", func(s map[string]any) { s["credentialsRef"] = map[string]any{} },
			"spec.credentialsRef.name", requiredRule),
		Entry("credentialsRef with an empty name", func(s map[string]any) {
			s["credentialsRef"] = map[string]any{"name": ""}
		}, "spec.credentialsRef.name", nonEmptyRule),
		Entry("credentialsRef.roleArn that is not a CAM role", func(s map[string]any) {
			s["credentialsRef"] = map[string]any{"name": "keys", "roleArn": "arn:aws:iam::1:role/x"}
		}, "spec.credentialsRef.roleArn", "should match"),
	)

	It("rejects an ImageShare without a spec", func() {
		expectRejected(createUnstructured(nil), "spec", requiredRule)
	})

	Context("on update", func() {
		var is *cvmv1alpha1.ImageShare

		BeforeEach(func() {
			is = newImageShare("update")
			Expect(k8sClient.Create(ctx, is)).To(Succeed())
			DeferCleanup(func() { Expect(k8sClient.Delete(ctx, is)).To(Succeed()) })
		})

		It("rejects a change of imageId as immutable", func() {
			is.Spec.ImageID = "img-bbbb0002"
			expectRejected(k8sClient.Update(ctx, is), "spec.imageId",
				"imageId is immutable: create a new ImageShare instead")
		})

		It("rejects a change of region as immutable", func() {
			is.Spec.Region = "ap-shanghai"
			expectRejected(k8sClient.Update(ctx, is), "spec.region",
				"region is immutable: create a new ImageShare instead")
		})

		It("accepts a change of accountIds, mode and deletionPolicy", func() {
			generation := is.Generation
			is.Spec.AccountIDs = []string{accountB, "100000000009"}
			is.Spec.Mode = cvmv1alpha1.ModeExclusive
			is.Spec.DeletionPolicy = cvmv1alpha1.DeletionPolicyOrphan
			Expect(k8sClient.Update(ctx, is)).To(Succeed())

			stored := &cvmv1alpha1.ImageShare{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(is), stored)).To(Succeed())
			Expect(stored.Spec.AccountIDs).To(Equal([]string{accountB, "100000000009"}))
			Expect(stored.Spec.Mode).To(Equal(cvmv1alpha1.ModeExclusive))
			Expect(stored.Spec.DeletionPolicy).To(Equal(cvmv1alpha1.DeletionPolicyOrphan))
			Expect(stored.Generation).To(BeNumerically(">", generation))
		})

		It("still validates the new accountIds", func() {
			is.Spec.AccountIDs = []string{accountA, accountA}
			expectRejected(k8sClient.Update(ctx, is), "spec.accountIds[1]", `Duplicate value: "100000000002"`)
		})
	})
})
