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

package emulator_test

import (
	"testing"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// TestErrorCodesAreTencentsNames pins the codes to the names Tencent's documentation and the SDK's
// cvm/v20170312/errors.go use, since clients match on them literally.
func TestErrorCodesAreTencentsNames(t *testing.T) {
	for got, want := range map[string]string{
		emulator.CodeInvalidAuthorization:  "AuthFailure.InvalidAuthorization",
		emulator.CodeSecretIDNotFound:      "AuthFailure.SecretIdNotFound",
		emulator.CodeSignatureExpire:       "AuthFailure.SignatureExpire",
		emulator.CodeSignatureFailure:      "AuthFailure.SignatureFailure",
		emulator.CodeInvalidAction:         "InvalidAction",
		emulator.CodeNoSuchVersion:         "NoSuchVersion",
		emulator.CodeUnsupportedProtocol:   "UnsupportedProtocol",
		emulator.CodeRequestSizeLimit:      "RequestSizeLimitExceeded",
		emulator.CodeRequestLimitExceeded:  "RequestLimitExceeded",
		emulator.CodeInternalError:         "InternalError",
		emulator.CodeInvalidParameter:      "InvalidParameter",
		emulator.CodeCoexistIDsFilters:     "InvalidParameter.InvalidParameterCoexistImageIdsFilters",
		emulator.CodeInvalidParameterValue: "InvalidParameterValue",
		emulator.CodeValueRange:            "InvalidParameterValue.Range",
		emulator.CodeInvalidImageState:     "InvalidParameterValue.InvalidImageState",
		emulator.CodeInvalidRegionValue:    "InvalidParameterValue.InvalidRegion",
		emulator.CodeUnknownParameter:      "UnknownParameter",
		emulator.CodeMissingParameter:      "MissingParameter",
		emulator.CodeInvalidFilter:         "InvalidFilter",
		emulator.CodeFilterLimitExceeded:   "InvalidFilterValue.LimitExceeded",
		emulator.CodeRegionNotFound:        "InvalidRegion.NotFound",
		emulator.CodeImageNotFound:         "InvalidImageId.NotFound",
		emulator.CodeImageMalformed:        "InvalidImageId.Malformed",
		emulator.CodeImageInShared:         "InvalidImageId.InShared",
		emulator.CodeOverQuota:             "OverQuota",
		emulator.CodeAccountAlreadyExists:  "FailedOperation.AccountAlreadyExists",
		emulator.CodeAccountIsYourSelf:     "FailedOperation.AccountIsYourSelf",
		emulator.CodeNotMasterAccount:      "FailedOperation.NotMasterAccount",
		emulator.CodeBYOLShareFailed:       "FailedOperation.BYOLImageShareFailed",
		emulator.CodeAccountNotFound:       "InvalidAccountId.NotFound",
		emulator.CodeNotBelongToAccount:    "UnauthorizedOperation.ImageNotBelongToAccount",
		emulator.CodeEncryptedNotSupported: "UnsupportedOperation.EncryptedImagesNotSupported",
		emulator.CodeRegionUnavailable:     "InvalidRegion.Unavailable",
		emulator.CodeCAMUnauthorized:       "AuthFailure.UnauthorizedOperation",
		emulator.CodeInvalidAppIDFormat:    "InvalidParameterValue.InvalidAppIdFormat",
		emulator.CodeImageIncorrectState:   "InvalidImageId.IncorrectState",
		emulator.CodeQImageShareFailed:     "FailedOperation.QImageShareFailed",
	} {
		if got != want {
			t.Errorf("code %q, want %q", got, want)
		}
	}
}
