package policy

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

// publishedData is what spec.publish's ConfigMap holds: for the newest
// selected image, its ID under spec.region and, for each replica region
// where its child reports a NORMAL copy, the copy's ID.
func publishedData(region string, selected []cloud.ListedImage, newestChild *cvmv1alpha1.ImageShare) map[string]string {
	if len(selected) == 0 {
		return map[string]string{}
	}
	data := map[string]string{region: selected[0].ID}
	if newestChild != nil {
		for _, rs := range newestChild.Status.Regions {
			if rs.ImageID != "" && rs.State == cloud.ImageStateNormal {
				data[rs.Region] = rs.ImageID
			}
		}
	}
	return data
}

// publish keeps the policy's ConfigMap, owned by the policy. It is read with
// a direct GET so that the manager caches no ConfigMap.
func (r *Reconciler) publish(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy, selected []cloud.ListedImage,
	children []cvmv1alpha1.ImageShare) (*verdict, error) {
	if p.Spec.Publish == nil {
		return nil, nil
	}
	var newest *cvmv1alpha1.ImageShare
	if len(selected) > 0 {
		for i := range children {
			if children[i].Name == childName(p.Name, selected[0].ID) {
				newest = &children[i]
			}
		}
	}
	data := publishedData(p.Spec.Region, selected, newest)
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Spec.Publish.ConfigMapName}
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, key, cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}, Data: data}
		if err := controllerutil.SetControllerReference(p, cm, r.Scheme); err != nil {
			return nil, fmt.Errorf("set owner of ConfigMap %s: %w", key, err)
		}
		if err := r.Create(ctx, cm); err != nil {
			return nil, fmt.Errorf("create ConfigMap %s: %w", key, err)
		}
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get ConfigMap %s: %w", key, err)
	}
	if !metav1.IsControlledBy(cm, p) {
		return stalled(cvmv1alpha1.ReasonConflict, fmt.Sprintf("ConfigMap %s already exists and is not owned by "+
			"this policy: rename spec.publish.configMapName or delete the ConfigMap", key.Name)), nil
	}
	if maps.Equal(cm.Data, data) {
		return nil, nil
	}
	cm.Data = data
	if err := r.Update(ctx, cm); err != nil {
		return nil, fmt.Errorf("update ConfigMap %s: %w", key, err)
	}
	return nil, nil
}
