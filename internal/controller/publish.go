package controller

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// published is what m's spec.publish ConfigMap holds: one key per region,
// the image (or its copy there) once it is NORMAL.
func published(o *cvmv1alpha1.ImageShare) map[string]string {
	data := map[string]string{}
	if o.Status.ImageState == cloud.ImageStateNormal {
		data[o.Spec.Region] = o.Spec.ImageID
	}
	for _, st := range o.Status.Regions {
		if st.ImageID != "" && st.State == cloud.ImageStateNormal {
			data[st.Region] = st.ImageID
		}
	}
	return data
}

// publish keeps m's spec.publish ConfigMap in step with its status, owned by
// the ImageShare (so a cluster's garbage collector removes it with it). It
// is read with a direct GET (no ConfigMap cache) and written only when its
// data changes. A ConfigMap of that name that this ImageShare does not own
// is never adopted or overwritten: a Warning event says so, once per
// generation.
func (r *ImageShareReconciler) publish(ctx context.Context, m *member) error {
	p := m.obj.Spec.Publish
	if p == nil || m.deleting() || m.v.release || m.v.gone {
		return nil
	}
	data := published(m.obj)
	if len(data) == 0 {
		return nil // nothing NORMAL yet: nothing to consume
	}
	name := types.NamespacedName{Namespace: m.obj.Namespace, Name: p.ConfigMapName}
	var cm corev1.ConfigMap
	err := r.APIReader.Get(ctx, name, &cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name}, Data: data}
		if err := controllerutil.SetControllerReference(m.obj, &cm, r.Scheme); err != nil {
			return fmt.Errorf("own configmap %s: %w", name, err)
		}
		if err := r.Create(ctx, &cm); err != nil {
			return fmt.Errorf("publish to configmap %s: %w", name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("get configmap %s: %w", name, err)
	}
	if !metav1.IsControlledBy(&cm, m.obj) {
		// Never adopted: deleting the ImageShare would delete it with it.
		if m.specChanged() { // said once for this generation
			r.Recorder.Eventf(m.obj, nil, corev1.EventTypeWarning, "PublishConflict", "Publish",
				"ConfigMap %s exists and is not this ImageShare's: not overwritten; rename spec.publish.configMapName "+
					"or delete that ConfigMap", name.Name)
		}
		return nil
	}
	if maps.Equal(cm.Data, data) {
		return nil
	}
	cm.Data = data
	if err := r.Update(ctx, &cm); err != nil {
		return fmt.Errorf("publish to configmap %s: %w", name, err)
	}
	return nil
}
