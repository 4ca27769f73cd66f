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

package emulator

// The wire format of CVM API 2017-03-12, field for field as the SDK's cvm/v20170312 models name
// them. Request fields are values or pointers so that "absent" and "zero" can be told apart where
// the API distinguishes them.

// Action names the emulator implements.
const (
	ActionDescribeImages               = "DescribeImages"
	ActionDescribeImageSharePermission = "DescribeImageSharePermission"
	ActionModifyImageSharePermission   = "ModifyImageSharePermission"
	ActionDescribeImageQuota           = "DescribeImageQuota"
	ActionDeleteImages                 = "DeleteImages"
	ActionSyncImages                   = "SyncImages"
	ActionDescribeRegions              = "DescribeRegions"
)

// APIVersion is the only X-TC-Version the emulator answers.
const APIVersion = "2017-03-12"

// Permission values of ModifyImageSharePermission.
const (
	PermissionShare  = "SHARE"
	PermissionCancel = "CANCEL"
)

type wireFilter struct {
	Name   *string  `json:"Name"`
	Values []string `json:"Values"`
}

type describeImagesRequest struct {
	ImageIds     []string     `json:"ImageIds"`
	Filters      []wireFilter `json:"Filters"`
	Offset       *uint64      `json:"Offset"`
	Limit        *uint64      `json:"Limit"`
	InstanceType *string      `json:"InstanceType"`
}

type wireSnapshot struct {
	SnapshotID string `json:"SnapshotId"`
	DiskUsage  string `json:"DiskUsage"`
	DiskSize   int64  `json:"DiskSize"`
	// Encrypt is an emulator extension: the SDK's Snapshot has no encryption flag.
	Encrypt bool `json:"Encrypt"`
}

type wireTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type wireImage struct {
	ImageID            string         `json:"ImageId"`
	OsName             string         `json:"OsName"`
	ImageType          string         `json:"ImageType"`
	CreatedTime        string         `json:"CreatedTime"`
	ImageName          string         `json:"ImageName"`
	ImageDescription   string         `json:"ImageDescription"`
	ImageSize          int64          `json:"ImageSize"`
	Architecture       string         `json:"Architecture"`
	ImageState         string         `json:"ImageState"`
	Platform           string         `json:"Platform"`
	ImageCreator       string         `json:"ImageCreator"`
	ImageSource        string         `json:"ImageSource"`
	SyncPercent        int64          `json:"SyncPercent"`
	IsSupportCloudinit bool           `json:"IsSupportCloudinit"`
	SnapshotSet        []wireSnapshot `json:"SnapshotSet"`
	Tags               []wireTag      `json:"Tags"`
	LicenseType        string         `json:"LicenseType"`
}

type describeImagesResponse struct {
	ImageSet   []wireImage `json:"ImageSet"`
	TotalCount int64       `json:"TotalCount"`
}

type describeImageSharePermissionRequest struct {
	ImageID *string `json:"ImageId"`
}

type wireSharePermission struct {
	CreatedTime string `json:"CreatedTime"`
	AccountID   string `json:"AccountId"`
}

type describeImageSharePermissionResponse struct {
	SharePermissionSet []wireSharePermission `json:"SharePermissionSet"`
}

type modifyImageSharePermissionRequest struct {
	ImageID    *string  `json:"ImageId"`
	AccountIds []string `json:"AccountIds"`
	Permission *string  `json:"Permission"`
}

type describeImageQuotaResponse struct {
	ImageNumQuota int64 `json:"ImageNumQuota"`
}

type deleteImagesRequest struct {
	ImageIds         []string `json:"ImageIds"`
	DeleteBindedSnap *bool    `json:"DeleteBindedSnap"`
	DryRun           *bool    `json:"DryRun"`
}

type syncImagesRequest struct {
	ImageIds           []string `json:"ImageIds"`
	DestinationRegions []string `json:"DestinationRegions"`
	DryRun             *bool    `json:"DryRun"`
	ImageName          *string  `json:"ImageName"`
	ImageSetRequired   *bool    `json:"ImageSetRequired"`
}

type wireSyncImage struct {
	ImageID string `json:"ImageId"`
	Region  string `json:"Region"`
}

type syncImagesResponse struct {
	ImageSet []wireSyncImage `json:"ImageSet,omitempty"`
}

type wireRegion struct {
	Region      string `json:"Region"`
	RegionName  string `json:"RegionName"`
	RegionState string `json:"RegionState"`
}

type describeRegionsResponse struct {
	TotalCount int64        `json:"TotalCount"`
	RegionSet  []wireRegion `json:"RegionSet"`
}

type emptyResponse struct{}
