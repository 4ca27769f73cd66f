package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// childSpec is the spec the policy gives the child of imageID: the
// policy's sharing fields; publish stays the policy's own.
func childSpec(p *cvmv1alpha1.ImageSharePolicy, imageID string) cvmv1alpha1.ImageShareSpec {
	s := p.Spec.DeepCopy()
	return cvmv1alpha1.ImageShareSpec{
		ImageID:            imageID,
		Region:             s.Region,
		AccountIDs:         s.AccountIDs,
		AccountsFrom:       s.AccountsFrom,
		ReplicaRegions:     s.ReplicaRegions,
		Mode:               s.Mode,
		DeletionPolicy:     s.DeletionPolicy,
		CopyDeletionPolicy: s.CopyDeletionPolicy,
		CredentialsRef:     s.CredentialsRef,
		ExpiresAt:          s.ExpiresAt,
	}
}

// synced is what syncChildren leaves: the children as they now stand, the
// names of children kept past keepLatest until the newer ones are Ready, and
// a Stalled verdict when the API server refused a child.
type synced struct {
	children []cvmv1alpha1.ImageShare
	held     []string
	rejected *verdict
}

// syncChildren creates the children of newly selected images, brings the
// others' specs in line with the policy, and retires children of images
// that left the selection. A child whose image only fell out of keepLatest
// (surplus: still listed and admitted) is retired only once every selected
// child is Ready, so consumers are never left without a shared image; the
// child of an image no longer listed, or failed, is retired at once.
func (r *Reconciler) syncChildren(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy,
	selected, surplus []cloud.ListedImage, children []cvmv1alpha1.ImageShare) (synced, error) {
	var out synced
	byName := map[string]int{}
	for i := range children {
		byName[children[i].Name] = i
	}
	wanted := map[string]bool{}
	for _, img := range selected {
		name := childName(p.Name, img.ID)
		wanted[name] = true
		spec := childSpec(p, img.ID)
		i, ok := byName[name]
		if !ok {
			child, err := r.createChild(ctx, p, name, spec)
			if isRejection(err) {
				out.rejected = rejected(out.rejected, "create", name, err)
				continue
			}
			if err != nil {
				return out, err
			}
			if child != nil {
				children = append(children, *child)
				byName[name] = len(children) - 1
			}
			continue
		}
		if err := r.updateChild(ctx, &children[i], spec); isRejection(err) {
			out.rejected = rejected(out.rejected, "update", name, err)
		} else if err != nil {
			return out, err
		}
	}
	superseded := map[string]bool{}
	for _, img := range surplus {
		superseded[childName(p.Name, img.ID)] = true
	}
	allReady := true
	for _, img := range selected {
		i, ok := byName[childName(p.Name, img.ID)]
		if !ok || !childReady(&children[i]) {
			allReady = false
		}
	}
	for i := range children {
		c := &children[i]
		if wanted[c.Name] || c.DeletionTimestamp != nil {
			continue
		}
		if superseded[c.Name] && !allReady {
			// Keep sharing the older build until the newer ones are.
			out.held = append(out.held, c.Name)
			if err := r.updateChild(ctx, c, childSpec(p, c.Spec.ImageID)); isRejection(err) {
				out.rejected = rejected(out.rejected, "update", c.Name, err)
			} else if err != nil {
				return out, err
			}
			continue
		}
		why := "its image left the selection"
		if superseded[c.Name] {
			why = "its image fell out of keepLatest and every newer selected image is shared"
		}
		if err := r.retire(ctx, p, c, why); err != nil {
			return out, err
		}
	}
	slices.SortFunc(children, func(a, b cvmv1alpha1.ImageShare) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(out.held)
	out.children = children
	return out, nil
}

// updateChild brings a child's spec in line with the policy.
func (r *Reconciler) updateChild(ctx context.Context, child *cvmv1alpha1.ImageShare,
	spec cvmv1alpha1.ImageShareSpec) error {
	if child.DeletionTimestamp != nil || equality.Semantic.DeepEqual(child.Spec, spec) {
		return nil
	}
	updated := child.DeepCopy()
	updated.Spec = spec
	if err := r.Update(ctx, updated); err != nil {
		return fmt.Errorf("update ImageShare %s/%s: %w", child.Namespace, child.Name, err)
	}
	*child = *updated
	logf.FromContext(ctx).Info("Updated ImageShare from its policy", "imageShare", child.Name)
	return nil
}

// isRejection reports an error the API server gives a child it will not
// accept as it is (a validation rule, a quota, an admission policy): retrying
// the same object does not help, the policy's spec or the cluster must change.
func isRejection(err error) bool {
	return err != nil && (apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err))
}

// rejected is the Stalled verdict of the first child the API server refused.
func rejected(prev *verdict, op, name string, err error) *verdict {
	if prev != nil {
		return prev
	}
	v := stalled(cvmv1alpha1.ReasonChildRejected, fmt.Sprintf(
		"The API server refused to %s ImageShare %s: %v: fix the ImageSharePolicy's spec", op, name, err))
	v.requeueAfter = jitter(credentialsRetry)
	return v
}

// createChild creates one child. An ImageShare of that name the policy does
// not control is left alone (nil, nil) and reported by the missing child.
func (r *Reconciler) createChild(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy, name string,
	spec cvmv1alpha1.ImageShareSpec) (*cvmv1alpha1.ImageShare, error) {
	child := &cvmv1alpha1.ImageShare{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.Namespace,
			Labels: map[string]string{cvmv1alpha1.PolicyLabel: p.Name}},
		Spec: spec,
	}
	if err := controllerutil.SetControllerReference(p, child, r.Scheme); err != nil {
		return nil, fmt.Errorf("set owner of ImageShare %s/%s: %w", p.Namespace, name, err)
	}
	err := r.Create(ctx, child)
	switch {
	case apierrors.IsAlreadyExists(err):
		logf.FromContext(ctx).Info("Could not create ImageShare: the name is taken by an object the policy does not own",
			"imageShare", name)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("create ImageShare %s/%s: %w", p.Namespace, name, err)
	}
	logf.FromContext(ctx).Info("Created ImageShare for a selected image", "imageShare", name, "image", spec.ImageID)
	r.event(p, corev1.EventTypeNormal, "Selected", "CreateImageShare",
		"Created ImageShare %s for image %s", name, spec.ImageID)
	return child, nil
}

// retire deletes a child; its finalizer cancels its shares. The image is
// never deleted.
func (r *Reconciler) retire(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy, child *cvmv1alpha1.ImageShare,
	why string) error {
	if child.DeletionTimestamp != nil {
		return nil
	}
	if err := r.Delete(ctx, child, client.Preconditions{UID: &child.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete ImageShare %s/%s: %w", child.Namespace, child.Name, err)
	}
	now := metav1.Now()
	child.DeletionTimestamp = &now
	logf.FromContext(ctx).Info("Deleted ImageShare", "imageShare", child.Name, "image", child.Spec.ImageID,
		"why", why)
	r.event(p, corev1.EventTypeNormal, "Retired", "DeleteImageShare",
		"Deleted ImageShare %s of image %s: %s", child.Name, child.Spec.ImageID, why)
	return nil
}

func (r *Reconciler) event(p *cvmv1alpha1.ImageSharePolicy, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(p, nil, eventType, reason, action, note, args...)
	}
}
