package policy

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Reconcile lists the images the policy selects, keeps one child per
// selected image, retires the others' children, publishes, and writes the
// aggregated status. It never deletes an image.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	p := &cvmv1alpha1.ImageSharePolicy{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	children, err := r.children(ctx, p)
	if err != nil {
		return ctrl.Result{}, err
	}
	if p.DeletionTimestamp != nil {
		return r.finalize(ctx, p, children)
	}
	if !controllerutil.ContainsFinalizer(p, Finalizer) {
		controllerutil.AddFinalizer(p, Finalizer)
		if err := r.Update(ctx, p); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer to ImageSharePolicy %s: %w", req.NamespacedName, err)
		}
	}
	base := p.DeepCopy()

	v, selected, surplus, err := r.selectImages(ctx, p, children)
	if err != nil {
		return ctrl.Result{}, err
	}
	if v == nil {
		// Only a complete listing may change the children: a failed one freezes them.
		sync, err := r.syncChildren(ctx, p, selected, surplus, children)
		if err != nil {
			return ctrl.Result{}, err
		}
		children = sync.children
		pv, err := r.publish(ctx, p, selected, children)
		if err != nil {
			return ctrl.Result{}, err
		}
		images, agg := aggregate(p.Name, selected, children, sync.held)
		p.Status.Images, p.Status.SelectedCount = images, int32(len(images))
		v = agg
		if pv != nil {
			v = pv
		}
		if sync.rejected != nil {
			v = sync.rejected
		}
	}
	setConditions(p, v)
	if !equality.Semantic.DeepEqual(base.Status, p.Status) {
		if v.reason != readyReason(base) {
			log.Info("ImageSharePolicy changed state", "reason", v.reason, "selected", p.Status.SelectedCount)
		}
		if err := r.Status().Patch(ctx, p, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, fmt.Errorf("patch status of ImageSharePolicy %s: %w", req.NamespacedName, err)
		}
	}
	after := jitter(r.ResyncPeriod)
	if v.requeueAfter > 0 {
		after = min(after, v.requeueAfter)
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

func readyReason(p *cvmv1alpha1.ImageSharePolicy) string {
	for _, c := range p.Status.Conditions {
		if c.Type == cvmv1alpha1.ConditionReady {
			return c.Reason
		}
	}
	return ""
}

// selectImages lists and selects the policy's images (see the function of
// the same name; children keep their images admitted); a non-nil verdict
// says why it could not (no credentials, a cloud error).
func (r *Reconciler) selectImages(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy,
	children []cvmv1alpha1.ImageShare) (*verdict, []cloud.ListedImage, []cloud.ListedImage, error) {
	hasChild := func(imageID string) bool {
		name := childName(p.Name, imageID)
		for i := range children {
			if children[i].Name == name && children[i].DeletionTimestamp == nil {
				return true
			}
		}
		return false
	}
	creds, v, err := r.credentials(ctx, p)
	if err != nil || v != nil {
		if v != nil {
			v.requeueAfter = jitter(credentialsRetry)
		}
		return v, nil, nil, err
	}
	if l, ok := r.listings.get(p, r.ResyncPeriod); ok {
		selected, surplus := selectImages(l, p.Spec.KeepLatest, hasChild)
		return nil, selected, surplus, nil
	}
	cl, err := r.Cloud.ClientFor(creds)
	if err != nil {
		v := stalled(cvmv1alpha1.ReasonCredentialsInvalid, "The credentials cannot be used: fix the credentials Secret")
		v.requeueAfter = jitter(credentialsRetry)
		return v, nil, nil, nil
	}
	images, err := cl.ListPrivateImages(ctx, p.Spec.Region, cloud.ImageSelector{
		NamePrefix: p.Spec.Selector.NamePrefix, Tags: p.Spec.Selector.Tags})
	if err != nil {
		logf.FromContext(ctx).Info("Could not list images", "region", p.Spec.Region, "reason", cloud.ReasonOf(err),
			"error", err.Error())
		v := cloudVerdict(err, p.Spec.Region)
		if v.requeueAfter == 0 {
			v.requeueAfter = jitter(5 * time.Second)
			if v.stalled {
				v.requeueAfter = jitter(credentialsRetry)
			}
		}
		return v, nil, nil, nil
	}
	r.listings.put(p, images)
	now := metav1.Now()
	p.Status.LastSyncTime = &now
	selected, surplus := selectImages(images, p.Spec.KeepLatest, hasChild)
	return nil, selected, surplus, nil
}

// children lists the policy's children by label, in its namespace.
func (r *Reconciler) children(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy) ([]cvmv1alpha1.ImageShare,
	error) {
	var list cvmv1alpha1.ImageShareList
	if err := r.List(ctx, &list, client.InNamespace(p.Namespace),
		client.MatchingLabels{cvmv1alpha1.PolicyLabel: p.Name}); err != nil {
		return nil, fmt.Errorf("list children of ImageSharePolicy %s/%s: %w", p.Namespace, p.Name, err)
	}
	out := list.Items[:0]
	for _, c := range list.Items {
		if metav1.IsControlledBy(&c, p) {
			out = append(out, c)
		}
	}
	return out, nil
}

// finalize deletes every child and releases the policy once they are gone:
// each child's own finalizer cancels its shares first.
func (r *Reconciler) finalize(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy,
	children []cvmv1alpha1.ImageShare) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p, Finalizer) {
		return ctrl.Result{}, nil
	}
	for i := range children {
		if err := r.retire(ctx, p, &children[i], "the ImageSharePolicy is being deleted"); err != nil {
			return ctrl.Result{}, err
		}
	}
	if len(children) > 0 {
		// The children's deletion events requeue the policy; this is a backstop.
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	r.listings.forget(p.UID)
	controllerutil.RemoveFinalizer(p, Finalizer)
	if err := r.Update(ctx, p); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("remove finalizer of ImageSharePolicy %s/%s: %w", p.Namespace, p.Name, err)
	}
	logf.FromContext(ctx).Info("Released ImageSharePolicy after deleting its children")
	return ctrl.Result{}, nil
}
