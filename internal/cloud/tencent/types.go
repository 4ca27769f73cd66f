package tencent

import (
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// The request and response shapes below are the subset of Tencent's CVM
// 2017-03-12 models (cvm/v20170312/models.go) that the operator reads; the
// per-product SDK module is not used, so the field names are copied exactly.

type filter struct {
	Name   string   `json:"Name"`
	Values []string `json:"Values"`
}

type describeImagesRequest struct {
	ImageIds []string `json:"ImageIds,omitempty"`
	Filters  []filter `json:"Filters,omitempty"`
	Offset   uint64   `json:"Offset,omitempty"`
	Limit    uint64   `json:"Limit,omitempty"`
}

type snapshot struct {
	SnapshotID string `json:"SnapshotId"`
	Encrypt    bool   `json:"Encrypt"`
}

type image struct {
	ImageID     string     `json:"ImageId"`
	ImageName   string     `json:"ImageName"`
	ImageType   string     `json:"ImageType"`
	ImageState  string     `json:"ImageState"`
	LicenseType string     `json:"LicenseType"`
	IsEncrypted bool       `json:"IsEncrypted"`
	SnapshotSet []snapshot `json:"SnapshotSet"`
	CreatedTime string     `json:"CreatedTime"`
	Tags        []tag      `json:"Tags"`
}

// tag is the SDK's Tag: one key and its value.
type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func (i image) toCloud(region string) cloud.Image {
	encrypted := i.IsEncrypted
	for _, s := range i.SnapshotSet {
		encrypted = encrypted || s.Encrypt
	}
	return cloud.Image{ID: i.ImageID, Name: i.ImageName, Region: region, Type: i.ImageType,
		State: i.ImageState, LicenseType: i.LicenseType, Encrypted: encrypted}
}

type describeImagesResponse struct {
	*tchttp.BaseResponse
	Response struct {
		TotalCount int64   `json:"TotalCount"`
		ImageSet   []image `json:"ImageSet"`
		RequestID  string  `json:"RequestId"`
	} `json:"Response"`
}

type describeImageSharePermissionRequest struct {
	ImageID string `json:"ImageId"`
}

type describeImageSharePermissionResponse struct {
	*tchttp.BaseResponse
	Response struct {
		SharePermissionSet []struct {
			CreatedTime string `json:"CreatedTime"`
			AccountID   string `json:"AccountId"`
		} `json:"SharePermissionSet"`
		RequestID string `json:"RequestId"`
	} `json:"Response"`
}

type modifyImageSharePermissionRequest struct {
	ImageID    string   `json:"ImageId"`
	AccountIDs []string `json:"AccountIds"`
	Permission string   `json:"Permission"`
}

type modifyImageSharePermissionResponse struct {
	*tchttp.BaseResponse
	Response struct {
		RequestID string `json:"RequestId"`
	} `json:"Response"`
}

type describeRegionsResponse struct {
	*tchttp.BaseResponse
	Response struct {
		RegionSet []struct {
			Region      string `json:"Region"`
			RegionName  string `json:"RegionName"`
			RegionState string `json:"RegionState"`
		} `json:"RegionSet"`
		RequestID string `json:"RequestId"`
	} `json:"Response"`
}

type syncImagesRequest struct {
	ImageIds           []string `json:"ImageIds"`
	DestinationRegions []string `json:"DestinationRegions"`
	ImageName          string   `json:"ImageName,omitempty"`
	ImageSetRequired   bool     `json:"ImageSetRequired"`
}

type syncImagesResponse struct {
	*tchttp.BaseResponse
	Response struct {
		ImageSet []struct {
			ImageID string `json:"ImageId"`
			Region  string `json:"Region"`
		} `json:"ImageSet"`
		RequestID string `json:"RequestId"`
	} `json:"Response"`
}

type deleteImagesRequest struct {
	ImageIds []string `json:"ImageIds"`
}

type deleteImagesResponse struct {
	*tchttp.BaseResponse
	Response struct {
		RequestID string `json:"RequestId"`
	} `json:"Response"`
}
