package controller

import (
	"context"
	"io"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// TestUnitCopyOfACopy: an ImageShare of a copy may have replica regions of
// its own, and an ImageShare of that copy's copy is planned too. Everything
// is planned from the source image's key; the copies' own keys are no-ops
// that never plan a copy on its own.
func TestUnitCopyOfACopy(t *testing.T) {
	const sh, bj = "ap-shanghai", "ap-beijing"
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	reconcileAt := func(k imageKey) {
		t.Helper()
		ctx := logf.IntoContext(context.Background(), crzap.New(crzap.WriteTo(io.Discard)))
		if _, err := e.r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{
			Namespace: k.Region, Name: k.ImageID}}); err != nil {
			t.Fatalf("reconcile %s: %v", k, err)
		}
	}
	copyIn := func(name, region string) string {
		t.Helper()
		if st := regionStatus(e.mustGet(nsA, name), region); st != nil && st.ImageID != "" {
			return st.ImageID
		}
		t.Fatalf("%s has no copy in %s: %+v", name, region, e.mustGet(nsA, name).Status.Regions)
		return ""
	}

	src := unitIMS(nsA, "src", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2)
	src.Spec.ReplicaRegions = []string{sh}
	e.create(src)
	e.mustReconcile(unitImgA, 2)
	e.expectReason(nsA, "src", cvmv1alpha1.ReasonShared)
	c1 := copyIn("src", sh)

	mid := unitIMS(nsA, "mid", c1, "creds", cvmv1alpha1.ModeMerge, unitR4)
	mid.Spec.Region, mid.Spec.ReplicaRegions = sh, []string{bj}
	e.create(mid)
	reconcileAt(imageKey{Region: sh, ImageID: c1}) // the copy's own key plans nothing
	if calls := e.owner().CallsTo("Copy"); len(calls) != 1 {
		t.Fatalf("the copy's key acted on its own: %+v", calls)
	}
	if root, ok := e.r.rootOf(context.Background(), imageKey{Region: sh, ImageID: c1}); !ok || root.ImageID != unitImgA {
		t.Fatalf("root of %s = %v, %v; want %s", c1, root, ok, unitImgA)
	}
	e.mustReconcile(unitImgA, 2)
	e.expectReason(nsA, "mid", cvmv1alpha1.ReasonShared)
	c2 := copyIn("mid", bj)
	expectStrings(t, "shares of the first copy", e.owner().Shares(sh, c1), unitSorted(unitR2, unitR4))
	expectStrings(t, "shares of the copy's copy", e.owner().Shares(bj, c2), []string{unitR4})

	leaf := unitIMS(nsA, "leaf", c2, "creds", cvmv1alpha1.ModeMerge, unitR5)
	leaf.Spec.Region = bj
	e.create(leaf)
	if root, ok := e.r.rootOf(context.Background(), imageKey{Region: bj, ImageID: c2}); !ok || root.ImageID != unitImgA {
		t.Fatalf("root of %s = %v, %v; want %s", c2, root, ok, unitImgA)
	}
	e.mustReconcile(unitImgA, 2)
	e.expectReason(nsA, "leaf", cvmv1alpha1.ReasonShared)
	expectStrings(t, "shares of the copy's copy", e.owner().Shares(bj, c2), unitSorted(unitR4, unitR5))
	e.expectReason(nsA, "src", cvmv1alpha1.ReasonShared)
	e.expectReason(nsA, "mid", cvmv1alpha1.ReasonShared)
	if calls := e.owner().CallsTo("Copy"); len(calls) != 2 {
		t.Fatalf("want exactly two copies (source→%s, copy→%s), got %+v", sh, bj, calls)
	}

	// Deleting the middle one cancels its shares on its image and on its copy.
	e.remove(nsA, "mid")
	e.mustReconcile(unitImgA, 3)
	e.expectGone(nsA, "mid")
	expectStrings(t, "first copy after mid is gone", e.owner().Shares(sh, c1), []string{unitR2})
	expectStrings(t, "copy's copy after mid is gone", e.owner().Shares(bj, c2), []string{unitR5})
}

// TestUnitTwoKeysOfOneAccountCopyOnce: two ImageShares of one image hold two
// keys of the same account (two identities, one cloud). A brand-new copy is
// not visible to the name search at once; the second key must still not copy
// again in the same reconcile.
func TestUnitTwoKeysOfOneAccountCopyOnce(t *testing.T) {
	const sh = "ap-shanghai"
	const secondID, secondKey = "AKIDunitowner0002", "unit-owner-secret-key-0002"
	e := newUnitEnv(t)
	e.clouds.SetClient(secondID, e.owner())
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	e.secret(nsB, "creds", secondID, secondKey)
	unitImage(e.owner(), unitImgA)
	e.owner().FindImagesByNameFn = func(context.Context, string, string) ([]cloud.Image, error) {
		return nil, nil // every copy is still invisible to the name search
	}
	for _, ns := range []string{nsA, nsB} {
		o := unitIMS(ns, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2)
		o.Spec.ReplicaRegions = []string{sh}
		e.create(o)
	}
	e.mustReconcile(unitImgA, 3)
	if calls := e.owner().CallsTo("Copy"); len(calls) != 1 {
		t.Fatalf("two keys of one account copied %d times: %+v", len(calls), calls)
	}
	a, b := regionStatus(e.mustGet(nsA, "web"), sh), regionStatus(e.mustGet(nsB, "web"), sh)
	if a == nil || b == nil || a.ImageID == "" || a.ImageID != b.ImageID {
		t.Fatalf("both objects must record the one copy: %+v, %+v", a, b)
	}
}

// newReplicaEnv is an owner with image A and, not yet created, an
// ImageShare "web" of it for unitR2 copied to region.
func newReplicaEnv(t *testing.T, region string) (*unitEnv, *cvmv1alpha1.ImageShare) {
	t.Helper()
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	o := unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2)
	o.Spec.ReplicaRegions = []string{region}
	return e, o
}

// TestUnitFailedCopyDeleted: a copy that ended up failed is reported, and
// once its region is removed under copyDeletionPolicy Delete it is deleted
// (a failed copy was never shared), not left behind.
func TestUnitFailedCopyDeleted(t *testing.T) {
	const sh = "ap-shanghai"
	e, o := newReplicaEnv(t, sh)
	o.Spec.CopyDeletionPolicy = cvmv1alpha1.CopyDeletionPolicyDelete
	// The copy is made, and fails before it is ever shared.
	cl := e.owner()
	cl.CopyFn = func(ctx context.Context, region, imageID string, dst []string, name string) (map[string]string, error) {
		cl.CopyFn = nil
		out, err := cl.Copy(ctx, region, imageID, dst, name)
		for d, id := range out {
			cl.SetState(d, id, "SYNCFAILED")
		}
		return out, err
	}
	e.create(o)
	e.mustReconcile(unitImgA, 2)
	e.expectReason(nsA, "web", cvmv1alpha1.ReasonCopyFailed)
	st := regionStatus(e.mustGet(nsA, "web"), sh)
	if st == nil || st.ImageID == "" {
		t.Fatalf("no copy in %s: %+v", sh, e.mustGet(nsA, "web").Status.Regions)
	}
	copyID := st.ImageID

	e.update(nsA, "web", func(o *cvmv1alpha1.ImageShare) { o.Spec.ReplicaRegions = nil })
	e.mustReconcile(unitImgA, 1)
	if _, ok := e.owner().Image(sh, copyID); ok {
		t.Fatalf("failed copy %s was not deleted after its region was removed", copyID)
	}
	if st := regionStatus(e.mustGet(nsA, "web"), sh); st != nil {
		t.Fatalf("region %s still in status: %+v", sh, st)
	}
	e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
}
