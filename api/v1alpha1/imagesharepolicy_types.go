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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PolicyLabel is the label on every child ImageShare naming the ImageSharePolicy that owns it.
const PolicyLabel = "cvm.imageshare.dev/policy"

// ImageSelector picks the policy owner's own images; its parts are ANDed.
// +kubebuilder:validation:XValidation:rule="(has(self.namePrefix) && size(self.namePrefix) > 0) || (has(self.tags) && size(self.tags) > 0)",message="selector must set namePrefix or tags (or both)"
type ImageSelector struct {
	// namePrefix keeps images whose name starts with it, e.g. golden-ubuntu-.
	// +optional
	// +kubebuilder:validation:MaxLength=60
	NamePrefix string `json:"namePrefix,omitempty"`

	// tags keeps images that carry every one of these tags with exactly these
	// values (DescribeImages' tag:<key> filters). At most 9: DescribeImages
	// takes 10 filters and one selects the image type.
	// +optional
	// +kubebuilder:validation:MaxProperties=9
	Tags map[string]string `json:"tags,omitempty"`
}

// ImageSharePolicySpec declares which images to share (a selector, the
// newest keepLatest of them) and how, as the spec of each child ImageShare.
// +kubebuilder:validation:XValidation:rule="!has(self.replicaRegions) || !self.replicaRegions.exists(r, r == self.region)",message="replicaRegions must not contain the source region spec.region"
type ImageSharePolicySpec struct {
	// region is the Tencent Cloud region whose images are selected.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[a-z]{2,}(-[a-z0-9]+)+$`
	Region string `json:"region"`

	// selector picks the credentials owner's own (PRIVATE) images in region;
	// only NORMAL images count.
	// +required
	Selector ImageSelector `json:"selector"`

	// keepLatest shares only the newest N selected images (by creation time,
	// then image ID); 0 (default) shares them all. Images that fall out have
	// their child ImageShare deleted, which cancels its shares; the image
	// itself is never deleted.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self >= 0",message="keepLatest must be 0 (all images) or more"
	KeepLatest int32 `json:"keepLatest,omitempty"`

	// accountIds are the root account IDs each selected image is shared with,
	// as ImageShare's spec.accountIds.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:Pattern=`^[1-9][0-9]{4,19}$`
	AccountIDs []string `json:"accountIds,omitempty"`

	// accountsFrom are more account IDs from ConfigMaps in this namespace,
	// passed to each child.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	AccountsFrom []AccountsSource `json:"accountsFrom,omitempty"`

	// replicaRegions are copied to and shared in too, passed to each child.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:Pattern=`^[a-z]{2,}(-[a-z0-9]+)+$`
	// +kubebuilder:validation:items:MaxLength=32
	ReplicaRegions []string `json:"replicaRegions,omitempty"`

	// mode is passed to each child (Merge, Exclusive or Observe).
	// +optional
	// +kubebuilder:default=Merge
	Mode Mode `json:"mode,omitempty"`

	// deletionPolicy is passed to each child (Delete or Orphan).
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// copyDeletionPolicy is passed to each child (Retain or Delete).
	// +optional
	// +kubebuilder:default=Retain
	CopyDeletionPolicy CopyDeletionPolicy `json:"copyDeletionPolicy,omitempty"`

	// credentialsRef names a Secret in this namespace (keys secretId,
	// secretKey, optional token): the policy lists images with it and passes
	// it to each child.
	// +optional
	CredentialsRef *SecretReference `json:"credentialsRef,omitempty"`

	// expiresAt (RFC 3339) is passed to each child: from then on its shares
	// are cancelled.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// publish names a ConfigMap in this namespace, owned by the policy, with
	// one key per region mapping to the newest selected image (or its copy)
	// there. It is the policy's own and not passed to the children.
	// +optional
	Publish *PublishSpec `json:"publish,omitempty"`
}

// PolicyImage is one selected image and its child ImageShare.
type PolicyImage struct {
	// imageId is the selected image.
	// +required
	ImageID string `json:"imageId"`

	// createdTime is when the image was made, as DescribeImages reports it.
	// +optional
	CreatedTime *metav1.Time `json:"createdTime,omitempty"`

	// child is the name of the ImageShare sharing it.
	// +optional
	Child string `json:"child,omitempty"`

	// ready is the child's Ready condition.
	// +optional
	Ready bool `json:"ready,omitempty"`
}

// ImageSharePolicyStatus is what the policy selected and how its children fare.
type ImageSharePolicyStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// images are the selected images, newest first.
	// +optional
	// +listType=map
	// +listMapKey=imageId
	Images []PolicyImage `json:"images,omitempty"`

	// selectedCount is the number of selected images (len(images)).
	// +optional
	SelectedCount int32 `json:"selectedCount,omitempty"`

	// lastSyncTime is when the policy last listed the images.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// conditions are Ready, Reconciling and Stalled (the kstatus triad),
	// aggregated from the children: Ready when every child is Ready (or,
	// reason NoImagesSelected, when nothing matches), Stalled naming a child
	// that is Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=imsp
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be at most 63 characters: it is the value of the label cvm.imageshare.dev/policy on every child"
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Selected",type=integer,JSONPath=`.status.selectedCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Prefix",type=string,JSONPath=`.spec.selector.namePrefix`,priority=1
// +kubebuilder:printcolumn:name="Keep",type=integer,JSONPath=`.spec.keepLatest`,priority=1
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.spec.expiresAt`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// ImageSharePolicy shares every image a selector matches as new builds
// appear, through one child ImageShare per selected image, and retires the
// oldest when keepLatest is set.
type ImageSharePolicy struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the selector and the sharing every selected image gets.
	// +required
	Spec ImageSharePolicySpec `json:"spec"`

	// status is what the policy selected and how its children fare. A new
	// object starts at observedGeneration -1, so kstatus and Argo CD see it
	// as in progress until the controller has looked at it.
	// +optional
	// +kubebuilder:default:={"observedGeneration":-1}
	Status ImageSharePolicyStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// ImageSharePolicyList contains a list of ImageSharePolicy
type ImageSharePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ImageSharePolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &ImageSharePolicy{}, &ImageSharePolicyList{})
		return nil
	})
}
