package controller

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// SecretFinalizer holds a credentials Secret while an ImageShare that manages
// shares references it. Deleting a namespace deletes the Secret and the
// ImageShares together; without it the keys could go first and the shares
// could never be cancelled (or the ImageShares would hang in deletion).
const SecretFinalizer = "cvm.imageshare.dev/in-use"

// errSecretGoing: the Secret is being deleted without our finalizer, so no
// new share may be made with its keys (nothing could cancel it later).
var errSecretGoing = errors.New("the Secret is being deleted")

// secretKeyPrefix marks a workqueue key that is a Secret (namespace/name),
// not an image (region/imageId): regions never contain a colon.
const secretKeyPrefix = "secret:"

func refName(o *cvmv1alpha1.ImageShare) string {
	if o.Spec.CredentialsRef == nil {
		return ""
	}
	return o.Spec.CredentialsRef.Name
}

// reconcileSecret keeps the in-use finalizer of one Secret in step with the
// ImageShares that reference it, as the cache has them. It runs on every
// change of such an ImageShare, its deletion included, so the Secret is
// released when the last ImageShare that managed shares with it goes.
func (r *ImageShareReconciler) reconcileSecret(ctx context.Context, name types.NamespacedName) error {
	needed, err := r.secretNeeded(ctx, name, &work{})
	if err != nil {
		return err
	}
	return ignoreGoing(r.lockSecret(ctx, name, needed))
}

// syncSecretLocks adds the in-use finalizer to each Secret this reconcile's
// members reference (or held before their credentialsRef changed) while one
// of the ImageShares referencing it manages something in the cloud, removes
// it once none does, and records on each member which Secret it holds.
func (r *ImageShareReconciler) syncSecretLocks(ctx context.Context, w *work) error {
	done := map[types.NamespacedName]bool{}
	var errs []error
	for _, m := range w.members {
		var names []string
		if ref := m.obj.Spec.CredentialsRef; ref != nil {
			names = append(names, ref.Name)
		}
		if old := m.obj.Status.SecretInUse; old != "" {
			names = append(names, old)
		}
		for _, n := range names {
			name := types.NamespacedName{Namespace: m.obj.Namespace, Name: n}
			if done[name] {
				continue
			}
			done[name] = true
			needed, err := r.secretNeeded(ctx, name, w)
			if err == nil {
				err = ignoreGoing(r.lockSecret(ctx, name, needed))
			}
			errs = append(errs, err)
		}
		m.v.secretInUse = ""
		if ref := m.obj.Spec.CredentialsRef; ref != nil && !m.v.release && managesAfter(m) {
			m.v.secretInUse = ref.Name
		}
	}
	return errors.Join(errs...)
}

// keepsSecret reports whether m needs its Secret once this reconcile is
// written: what it manages as decided, and, while a handover between
// siblings is being written, also what its status records. If the status
// taking an account over fails to land, the giver keeps its claim (released
// or not), and its keys must still be held for it.
func keepsSecret(m *member, handover bool) bool {
	switch {
	case m.v.gone:
		return false
	case m.v.release:
		return handover && managesCloud(m.base)
	default:
		return managesAfter(m) || handover && managesCloud(m.base)
	}
}

// managesAfter is managesCloud for m as this reconcile leaves it.
func managesAfter(m *member) bool {
	o := m.obj.DeepCopy()
	if a := m.v.accounts; a != nil {
		o.Status.ManagedAccountIDs = a.managed
	}
	if m.v.regionsSet {
		o.Status.Regions = m.v.regions
	}
	return managesCloud(o)
}

// secretNeeded reports whether an ImageShare referencing the Secret still
// manages something: this reconcile's members as just decided, the others as
// the cache has them. It runs on every reconcile, so it asks the holdingField
// index for no more objects than it has members: any other one decides.
func (r *ImageShareReconciler) secretNeeded(ctx context.Context, name types.NamespacedName, w *work) (bool, error) {
	members := map[types.UID]bool{}
	for _, m := range w.members {
		if credentialKey(m.obj) != name.String() {
			continue
		}
		members[m.obj.UID] = true
		if keepsSecret(m, w.handover) {
			return true, nil
		}
	}
	var list cvmv1alpha1.ImageShareList
	if err := r.List(ctx, &list, client.MatchingFields{holdingField: name.String()},
		client.Limit(int64(len(members)+1)), client.UnsafeDisableDeepCopy); err != nil {
		return false, fmt.Errorf("list ImageShares holding secret %s: %w", name, err)
	}
	for i := range list.Items {
		if !members[list.Items[i].UID] {
			return true, nil
		}
	}
	return false, nil
}

// holdsSecret is the holdingField index of o: its Secret while it is not
// released and manages something in the cloud.
func holdsSecret(o *cvmv1alpha1.ImageShare) []string {
	ref := o.Spec.CredentialsRef
	released := !o.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(o, Finalizer)
	if ref == nil || released || !managesCloud(o) {
		return nil
	}
	return []string{o.Namespace + "/" + ref.Name}
}

// lockSecret adds or removes the finalizer. It reads the Secret afresh (not
// the reconcile's keyring copy): another image's reconcile may have released
// it since, and a share about to be made must find it held. A Secret that is
// gone needs no release, and cannot be held for a new share.
func (r *ImageShareReconciler) lockSecret(ctx context.Context, name types.NamespacedName, needed bool) error {
	var s corev1.Secret
	if err := r.APIReader.Get(ctx, name, &s); err != nil {
		if apierrors.IsNotFound(err) {
			if needed {
				return fmt.Errorf("secret %s: %w", name, errSecretGoing)
			}
			return nil
		}
		return fmt.Errorf("get secret %s: %w", name, err)
	}
	if controllerutil.ContainsFinalizer(&s, SecretFinalizer) == needed {
		return nil
	}
	if needed {
		if !s.DeletionTimestamp.IsZero() {
			// Too late to add one: shares made now would outlive their keys.
			return fmt.Errorf("secret %s: %w", name, errSecretGoing)
		}
		controllerutil.AddFinalizer(&s, SecretFinalizer)
	} else {
		controllerutil.RemoveFinalizer(&s, SecretFinalizer)
	}
	// Update (not patch): RBAC grants only get and update on Secrets, and the
	// resourceVersion makes a concurrent change fail rather than be lost.
	if err := r.Update(ctx, &s); err != nil {
		if apierrors.IsNotFound(err) {
			if needed {
				return fmt.Errorf("secret %s: %w", name, errSecretGoing)
			}
			return nil
		}
		return fmt.Errorf("update finalizer of secret %s: %w", name, err)
	}
	return nil
}

// ignoreGoing: a Secret going away without our finalizer needs no lock
// change; only a new share (recordPending) must refuse it.
func ignoreGoing(err error) error {
	if errors.Is(err, errSecretGoing) {
		return nil
	}
	return err
}
