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

// regionImage is the image ID a child offers for region: the source image
// under home, else its copy's ID when the child reports that copy NORMAL.
// ready also asks for the child to be Ready for its generation.
func regionImage(home, region string, img cloud.ListedImage, child *cvmv1alpha1.ImageShare, ready bool) string {
	if ready && (child == nil || !childReady(child)) {
		return ""
	}
	if region == home {
		return img.ID
	}
	if child == nil {
		return ""
	}
	for _, rs := range child.Status.Regions {
		if rs.Region == region && rs.ImageID != "" && (!ready || rs.State == cloud.ImageStateNormal) {
			return rs.ImageID
		}
	}
	return ""
}

// publishedData is what spec.publish's ConfigMap holds, given what it holds
// now (current): per region of the policy (spec.region, then each replica
// region), the newest selected image whose child is Ready (and, in a replica
// region, whose copy there is NORMAL). A region keeps its current value until
// a newer image qualifies; a region nothing qualifies for keeps it too, and
// one with no value yet is left out. Regions the policy no longer names are
// dropped.
func publishedData(home string, replicas []string, selected []cloud.ListedImage,
	children map[string]*cvmv1alpha1.ImageShare, policy string, current map[string]string) map[string]string {
	data := map[string]string{}
	for _, region := range append([]string{home}, replicas...) {
		cand, candAt, curAt := "", len(selected), len(selected)
		cur, has := current[region]
		for i, img := range selected {
			child := children[childName(policy, img.ID)]
			if cand == "" {
				if id := regionImage(home, region, img, child, true); id != "" {
					cand, candAt = id, i
				}
			}
			if has && curAt == len(selected) && regionImage(home, region, img, child, false) == cur {
				curAt = i
			}
		}
		switch {
		case cand == "" && has, has && curAt < candAt:
			data[region] = cur
		case cand != "":
			data[region] = cand
		}
	}
	return data
}

// publish keeps the policy's ConfigMap, owned by the policy. It is read with
// a direct GET so that the manager caches no ConfigMap. It never blanks the
// map: while no image qualifies, the ConfigMap is left as it is (or not made).
func (r *Reconciler) publish(ctx context.Context, p *cvmv1alpha1.ImageSharePolicy, selected []cloud.ListedImage,
	children []cvmv1alpha1.ImageShare) (*verdict, error) {
	if p.Spec.Publish == nil {
		return nil, nil
	}
	byName := map[string]*cvmv1alpha1.ImageShare{}
	for i := range children {
		byName[children[i].Name] = &children[i]
	}
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Spec.Publish.ConfigMapName}
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, key, cm)
	switch {
	case apierrors.IsNotFound(err):
		data := publishedData(p.Spec.Region, p.Spec.ReplicaRegions, selected, byName, p.Name, nil)
		if len(data) == 0 {
			return nil, nil
		}
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
	data := publishedData(p.Spec.Region, p.Spec.ReplicaRegions, selected, byName, p.Name, cm.Data)
	if len(data) == 0 || maps.Equal(cm.Data, data) {
		return nil, nil
	}
	cm.Data = data
	if err := r.Update(ctx, cm); err != nil {
		return nil, fmt.Errorf("update ConfigMap %s: %w", key, err)
	}
	return nil, nil
}
