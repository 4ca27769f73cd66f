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

// Mode says how much of the image's share list an ImageShare owns.
// +kubebuilder:validation:Enum=Merge;Exclusive;Observe
type Mode string

const (
	// ModeMerge shares the listed accounts and leaves shares made elsewhere alone.
	ModeMerge Mode = "Merge"
	// ModeExclusive makes the image's share list exactly the listed accounts.
	ModeExclusive Mode = "Exclusive"
	// ModeObserve never modifies the cloud; it only reports drift.
	ModeObserve Mode = "Observe"
)

// DeletionPolicy says what happens to the shares when the ImageShare is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete cancels the managed shares before the object goes away.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the shares in the cloud.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// MaxAccounts is the hard cap the CVM API puts on one image's share list.
const MaxAccounts = 500

// CopyDeletionPolicy says what happens to a copy in a region no longer listed in replicaRegions.
// +kubebuilder:validation:Enum=Retain;Delete
type CopyDeletionPolicy string

const (
	// CopyDeletionPolicyRetain keeps the copy (instances may run from it); only its shares are cancelled.
	CopyDeletionPolicyRetain CopyDeletionPolicy = "Retain"
	// CopyDeletionPolicyDelete deletes the copy once its shares are cancelled.
	CopyDeletionPolicyDelete CopyDeletionPolicy = "Delete"
)

// ImageShareSpec declares which Tencent Cloud root accounts may use one CVM custom image.
// +kubebuilder:validation:XValidation:rule="!has(self.replicaRegions) || !self.replicaRegions.exists(r, r == self.region)",message="replicaRegions must not contain the source region spec.region"
type ImageShareSpec struct {
	// imageId is the ID of the custom image to share, for example img-6pb6lrmy.
	// It cannot be changed after creation: create a new ImageShare instead.
	// +required
	// +kubebuilder:validation:Pattern=`^img-[a-z0-9]{8}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="imageId is immutable: create a new ImageShare instead"
	ImageID string `json:"imageId"`

	// region is the Tencent Cloud region the image lives in, for example ap-guangzhou.
	// Images can only be shared inside their own region; to share elsewhere, copy the
	// image to that region first. It cannot be changed after creation.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[a-z]{2,}(-[a-z0-9]+)+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="region is immutable: create a new ImageShare instead"
	Region string `json:"region"`

	// accountIds are the root account IDs (5 to 20 digits, as strings) the image is
	// shared with. It is a set: each ID at most once, at most 500 IDs. When the
	// image's share limit does not fit them all, the first IDs in this list win.
	// Collaborator (sub) accounts cannot receive shares: list their root account.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:Pattern=`^[1-9][0-9]{4,19}$`
	AccountIDs []string `json:"accountIds,omitempty"`

	// mode is how much of the image's share list this object owns.
	// Merge (default) shares the listed accounts and cancels only accounts it shared
	// itself and no longer lists. Exclusive makes the share list exactly the listed
	// accounts, cancelling shares made elsewhere; only one Exclusive ImageShare may
	// target an image. Observe never changes the cloud and reports drift.
	// +optional
	// +kubebuilder:default=Merge
	Mode Mode `json:"mode,omitempty"`

	// deletionPolicy is what happens to the shares when this object is deleted.
	// Delete (default) cancels the accounts this object manages, so that the owner
	// can later delete the image (Tencent refuses to delete a shared image).
	// Orphan leaves the shares in place.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// replicaRegions are other regions to share the image in. Tencent shares an
	// image only inside its own region, so the controller copies the image to each
	// listed region (SyncImages), records the copy in status.regions, waits while
	// it is SYNCING, then shares the copy with the same accounts under the same
	// rules. A set of at most 20 regions, never spec.region.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:Pattern=`^[a-z]{2,}(-[a-z0-9]+)+$`
	// +kubebuilder:validation:items:MaxLength=32
	ReplicaRegions []string `json:"replicaRegions,omitempty"`

	// copyDeletionPolicy is what happens to a copy when its region is removed from
	// replicaRegions or the object is deleted (its shares are cancelled first under
	// deletionPolicy Delete). Retain (default) keeps the copy, because instances may
	// run from it; Delete deletes it once no ImageShare uses it and it is not shared.
	// +optional
	// +kubebuilder:default=Retain
	CopyDeletionPolicy CopyDeletionPolicy `json:"copyDeletionPolicy,omitempty"`

	// credentialsRef names a Secret in this object's namespace with the keys
	// secretId, secretKey and optionally token. While this object manages shares
	// the controller holds the finalizer cvm.imageshare.dev/in-use on that
	// Secret, so deleting a namespace cancels the shares before the keys go.
	// Without it the manager's own credentials (--credential-sources, default
	// the TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY /
	// TENCENTCLOUD_SECURITY_TOKEN environment) are used, but only in the
	// namespaces the manager's --env-credentials-namespaces allows.
	// +optional
	CredentialsRef *SecretReference `json:"credentialsRef,omitempty"`

	// accountsFrom are more account IDs, read from ConfigMaps in this
	// object's namespace. The effective list is accountIds, then each source
	// in order, without duplicates; the share limit takes accounts in that
	// order. Editing a referenced ConfigMap re-plans the object.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	AccountsFrom []AccountsSource `json:"accountsFrom,omitempty"`

	// expiresAt (RFC 3339) is when the shares end: from then on the object
	// behaves as if it listed no account, whatever its deletionPolicy, and
	// reports Ready True with reason Expired. Moving it into the future
	// shares again.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// publish names a ConfigMap in this namespace, owned by this object, that
	// the controller keeps with one key per region mapping to the image or
	// copy ID there, once it is NORMAL.
	// +optional
	Publish *PublishSpec `json:"publish,omitempty"`
}

// SecretReference names a Secret in the ImageShare's own namespace; cross-namespace
// references are impossible by design, so a tenant can never borrow another team's keys.
type SecretReference struct {
	// name is the name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// roleArn, when set, is a CAM role assumed (STS AssumeRole) with the
	// Secret's keys: the controller then acts with the role's temporary
	// credentials, refreshed before they expire, and ImageShares assuming the
	// same role count as one cloud identity.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^(qcs::cam::uin/[0-9]{1,20}:role(Name)?/[^\s/]{1,128})?$`
	RoleArn string `json:"roleArn,omitempty"`
}

// FailedAccount is a listed account that could not be shared, and why.
type FailedAccount struct {
	// accountId is the listed account that is not shared.
	// +required
	AccountID string `json:"accountId"`

	// reason is a CamelCase word: ShareLimitExceeded, AccountNotFound,
	// AccountIsOwner, NotRootAccount, InvalidAccountId, or the cloud's reason
	// for a refused cancel of a managed account (which is retried).
	// +required
	Reason string `json:"reason"`

	// message says what happened and what to do about it.
	// +optional
	Message string `json:"message,omitempty"`
}

// RegionStatus is one copy of the image in another region.
type RegionStatus struct {
	// region is the region of the copy.
	// +required
	Region string `json:"region"`

	// imageId is the copy's own image ID (a copy gets a new ID).
	// +optional
	ImageID string `json:"imageId,omitempty"`

	// state is the copy's state (SYNCING while it is being copied, then NORMAL).
	// +optional
	State string `json:"state,omitempty"`

	// sharedAccountIds are the listed accounts the cloud confirms shared on the
	// copy (whoever shared them), sorted.
	// +optional
	// +listType=set
	SharedAccountIDs []string `json:"sharedAccountIds,omitempty"`
	// managedAccountIds are the accounts this ImageShare itself shared on the
	// copy, sorted: the only ones it cancels there.
	// +optional
	// +listType=set
	ManagedAccountIDs []string `json:"managedAccountIds,omitempty"`
	// reason is the copy's problem when it needs a spec or outside change
	// (CopyFailed, ShareLimitExceeded, InvalidAccounts, Conflict), CopyRetained for
	// a region the object left whose copy is kept because another party still
	// shares it, else empty.
	// +optional
	Reason string `json:"reason,omitempty"`

	// failedAccounts are listed accounts that cannot be shared on the copy.
	// +optional
	// +listType=map
	// +listMapKey=accountId
	FailedAccounts []FailedAccount `json:"failedAccounts,omitempty"`

	// ready is true when the copy is shared with every listed account.
	// +optional
	Ready bool `json:"ready,omitempty"`

	// message says what is happening in this region or what is wrong.
	// +optional
	Message string `json:"message,omitempty"`
}

// ImageShareStatus is what the controller last observed in the cloud.
type ImageShareStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// imageName is the image's name as DescribeImages reports it.
	// +optional
	ImageName string `json:"imageName,omitempty"`

	// imageState is the image's state as DescribeImages reports it (NORMAL, SYNCING, ...).
	// +optional
	ImageState string `json:"imageState,omitempty"`

	// accounts is "shared/listed", the ACCOUNTS column of kubectl get.
	// +optional
	Accounts string `json:"accounts,omitempty"`

	// sharedAccountIds are the listed accounts the cloud confirms shared,
	// whoever shared them (this object, another ImageShare, the console), sorted.
	// +optional
	// +listType=set
	SharedAccountIDs []string `json:"sharedAccountIds,omitempty"`
	// managedAccountIds are the accounts this ImageShare shared, sorted: its
	// own SHARE succeeded, or answered AccountAlreadyExists for a share it had
	// recorded as pending; or a sibling of the same identity that shared it
	// let go of it (dropped it, or was deleted) while this one lists it, so
	// the last one to let go cancels it. They are the only accounts Merge cancels when
	// the spec drops them and deletion cancels (Exclusive also cancels shares
	// nobody lists). An account shared from the console before it was listed
	// is never managed; Observe manages nothing. An account stays managed
	// while its cancel is owed (a refused cancel is listed in failedAccounts).
	// +optional
	// +listType=set
	ManagedAccountIDs []string `json:"managedAccountIds,omitempty"`

	// unmanagedAccountIds are accounts the image is shared with in the cloud but
	// that this object does not list (Merge and Observe), sorted.
	// +optional
	// +listType=set
	UnmanagedAccountIDs []string `json:"unmanagedAccountIds,omitempty"`

	// missingAccountIds are listed accounts not shared yet (Observe mode, or while
	// work is pending), sorted.
	// +optional
	// +listType=set
	MissingAccountIDs []string `json:"missingAccountIds,omitempty"`

	// failedAccounts are listed accounts that cannot be shared, one entry each,
	// sorted by accountId.
	// +optional
	// +listType=map
	// +listMapKey=accountId
	FailedAccounts []FailedAccount `json:"failedAccounts,omitempty"`

	// regions describe the copies in spec.replicaRegions, one entry per region.
	// +optional
	// +listType=map
	// +listMapKey=region
	Regions []RegionStatus `json:"regions,omitempty"`

	// secretInUse is the credentials Secret on which the controller holds the
	// finalizer cvm.imageshare.dev/in-use for this object (while it manages
	// shares), so the finalizer is released even after credentialsRef changes.
	// +optional
	SecretInUse string `json:"secretInUse,omitempty"`
	// lastSyncTime is when the controller last read the image's shares from the cloud.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// listedAccounts is the size of the effective account list: accountIds,
	// then accountsFrom, without duplicates.
	// +optional
	ListedAccounts int32 `json:"listedAccounts,omitempty"`

	// expiresAt echoes spec.expiresAt once the controller has seen it.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// lastHandledReconcileAt echoes the annotation
	// cvm.imageshare.dev/reconcile-requested-at once a reconcile that read
	// the cloud afresh for it has finished (as Flux's requestedAt does).
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// conditions are Ready, Reconciling and Stalled (the kstatus triad): Ready=True
	// when the cloud matches the spec, Reconciling=True while work is pending,
	// Stalled=True when only a spec or outside change can help. The Ready reason
	// says which.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ims
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.spec.imageId`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Accounts",type=string,JSONPath=`.status.accounts`,description="Shared/listed accounts"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`,priority=1
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.spec.expiresAt`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// ImageShare declares which Tencent Cloud root accounts may use a CVM custom image;
// the controller shares and un-shares the image to match and reports what it cannot do.
type ImageShare struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the image and the accounts it should be shared with.
	// +required
	Spec ImageShareSpec `json:"spec"`

	// status is what the controller last observed in the cloud. A new object
	// starts at observedGeneration -1, so kstatus (Flux) and Argo CD see it as in
	// progress until the controller has looked at it.
	// +optional
	// +kubebuilder:default:={"observedGeneration":-1}
	Status ImageShareStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// ImageShareList contains a list of ImageShare
type ImageShareList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ImageShare `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &ImageShare{}, &ImageShareList{})
		return nil
	})
}
