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

import "fmt"

// Error codes the emulator answers with, as Tencent Cloud names them (common codes and the CVM
// codes of cvm/v20170312/errors.go).
const (
	CodeInvalidAuthorization  = "AuthFailure.InvalidAuthorization"
	CodeSecretIDNotFound      = "AuthFailure.SecretIdNotFound"
	CodeSignatureExpire       = "AuthFailure.SignatureExpire"
	CodeSignatureFailure      = "AuthFailure.SignatureFailure"
	CodeInvalidAction         = "InvalidAction"
	CodeNoSuchVersion         = "NoSuchVersion"
	CodeUnsupportedProtocol   = "UnsupportedProtocol"
	CodeRequestSizeLimit      = "RequestSizeLimitExceeded"
	CodeRequestLimitExceeded  = "RequestLimitExceeded"
	CodeInternalError         = "InternalError"
	CodeInvalidParameter      = "InvalidParameter"
	CodeCoexistIDsFilters     = "InvalidParameter.InvalidParameterCoexistImageIdsFilters"
	CodeInvalidParameterValue = "InvalidParameterValue"
	CodeValueRange            = "InvalidParameterValue.Range"
	CodeInvalidImageState     = "InvalidParameterValue.InvalidImageState"
	CodeInvalidRegionValue    = "InvalidParameterValue.InvalidRegion"
	CodeUnknownParameter      = "UnknownParameter"
	CodeMissingParameter      = "MissingParameter"
	CodeInvalidFilter         = "InvalidFilter"
	CodeFilterLimitExceeded   = "InvalidFilterValue.LimitExceeded"
	CodeRegionNotFound        = "InvalidRegion.NotFound"
	CodeImageNotFound         = "InvalidImageId.NotFound"
	CodeImageMalformed        = "InvalidImageId.Malformed"
	CodeImageInShared         = "InvalidImageId.InShared"
	CodeOverQuota             = "OverQuota"
	CodeImageQuotaExceeded    = "ImageQuotaLimitExceeded"
	CodeAccountAlreadyExists  = "FailedOperation.AccountAlreadyExists"
	CodeAccountIsYourSelf     = "FailedOperation.AccountIsYourSelf"
	CodeNotMasterAccount      = "FailedOperation.NotMasterAccount"
	CodeBYOLShareFailed       = "FailedOperation.BYOLImageShareFailed"
	CodeAccountNotFound       = "InvalidAccountId.NotFound"
	CodeNotBelongToAccount    = "UnauthorizedOperation.ImageNotBelongToAccount"
	CodeEncryptedNotSupported = "UnsupportedOperation.EncryptedImagesNotSupported"
	CodeRegionUnavailable     = "InvalidRegion.Unavailable"
	CodeCAMUnauthorized       = "AuthFailure.UnauthorizedOperation"
	CodeInvalidAppIDFormat    = "InvalidParameterValue.InvalidAppIdFormat"
	CodeImageIncorrectState   = "InvalidImageId.IncorrectState"
	CodeQImageShareFailed     = "FailedOperation.QImageShareFailed"
)

// apiError is one {"Error":{"Code","Message"}} answer.
type apiError struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}
