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

// The types below are shared by ImageShare and ImageSharePolicy (issue #15):
// account lists kept once in a ConfigMap, and a ConfigMap the image IDs are
// published to.

// AccountsSource is one more source of account IDs for an object.
type AccountsSource struct {
	// configMapKeyRef names a key of a ConfigMap in the object's own namespace
	// whose value lists account IDs, one per line; blank lines and text after
	// a # are ignored. A missing ConfigMap or key freezes the object (Stalled,
	// reason AccountsSourceNotFound) until it is back; a line that is not an
	// account ID is listed in status.failedAccounts (InvalidAccountId).
	// +required
	ConfigMapKeyRef ConfigMapKeyReference `json:"configMapKeyRef"`
}

// ConfigMapKeyReference names one key of a ConfigMap in the object's own
// namespace; cross-namespace references are impossible by design.
type ConfigMapKeyReference struct {
	// name is the name of the ConfigMap.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key is the ConfigMap key holding the account IDs.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// PublishSpec names the ConfigMap the image IDs are published to.
type PublishSpec struct {
	// configMapName is a ConfigMap in the object's own namespace that the
	// controller keeps, owned by the object, with one key per region
	// (ap-guangzhou: img-...) once the image or its copy there is NORMAL.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ConfigMapName string `json:"configMapName"`
}
