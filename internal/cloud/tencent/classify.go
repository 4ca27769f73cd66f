package tencent

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// codeNetworkError is the SDK's code for a call that got no answer.
const codeNetworkError = "ClientError.NetworkError"

// reasonByCode maps each CVM error code the operator can meet to the status
// reason it means. This table is the single place where Tencent's vocabulary
// becomes the controller's; codes not listed are CloudError (retried).
var reasonByCode = map[string]cloud.Reason{
	"InvalidImageId.NotFound":                          cloud.ReasonImageNotFound,
	"InvalidImageId.Malformed":                         cloud.ReasonImageNotFound,
	"InvalidRegion.NotFound":                           cloud.ReasonRegionMismatch,
	"InvalidParameterValue.InvalidRegion":              cloud.ReasonRegionMismatch,
	"UnsupportedRegion":                                cloud.ReasonRegionMismatch,
	"OverQuota":                                        cloud.ReasonShareLimitExceeded,
	"InvalidParameterValue.LimitExceeded":              cloud.ReasonShareLimitExceeded,
	"FailedOperation.AccountAlreadyExists":             cloud.ReasonAlreadyShared,
	"InvalidAccountId.NotFound":                        cloud.ReasonAccountNotFound,
	"FailedOperation.AccountIsYourSelf":                cloud.ReasonAccountIsOwner,
	"FailedOperation.NotMasterAccount":                 cloud.ReasonNotRootAccount,
	"UnauthorizedOperation.ImageNotBelongToAccount":    cloud.ReasonImageNotShareable,
	"FailedOperation.BYOLImageShareFailed":             cloud.ReasonImageNotShareable,
	"UnsupportedOperation.EncryptedImagesNotSupported": cloud.ReasonImageNotShareable,
	"InvalidParameterValue.InvalidImageState":          cloud.ReasonImageNotReady,
	"ImageQuotaLimitExceeded":                          cloud.ReasonCopyFailed,
	"LimitExceeded.ImageQuotaLimitExceeded":            cloud.ReasonCopyFailed,
	"InvalidImageId.InShared":                          cloud.ReasonImageInUse,
	"InternalError":                                    cloud.ReasonCloudError,
	codeNetworkError:                                   cloud.ReasonCloudError,
}

// reasonByPrefix covers code families Tencent extends over time.
var reasonByPrefix = []struct {
	prefix string
	reason cloud.Reason
}{
	{"AuthFailure", cloud.ReasonCredentialsInvalid},
	{"RequestLimitExceeded", cloud.ReasonThrottled},
	{"InternalError", cloud.ReasonCloudError},
	{"ClientError", cloud.ReasonCloudError},
}

var digitRun = regexp.MustCompile(`[0-9]+`)

// classify turns whatever the SDK returned into a *cloud.Error, once. accounts
// are the accounts the call was about: the one the message names becomes
// Error.Account, so the controller can drop it and share the rest.
func classify(op string, err error, accounts []string) *cloud.Error {
	ce := &cloud.Error{Op: op, Reason: cloud.ReasonCloudError}
	var sdkErr *tcerr.TencentCloudSDKError
	switch {
	case errors.As(err, &sdkErr):
		ce.Code, ce.Message, ce.RequestID = sdkErr.GetCode(), sdkErr.GetMessage(), sdkErr.GetRequestId()
	case errors.Is(err, context.DeadlineExceeded):
		ce.Code, ce.Message = "ClientError.Timeout", "the call timed out"
	case errors.Is(err, context.Canceled):
		ce.Code, ce.Message = "ClientError.Canceled", "the call was canceled"
	default:
		ce.Code, ce.Message = codeNetworkError, err.Error()
	}
	if r, ok := reasonByCode[ce.Code]; ok {
		ce.Reason = r
	} else {
		for _, p := range reasonByPrefix {
			if strings.HasPrefix(ce.Code, p.prefix) {
				ce.Reason = p.reason
				break
			}
		}
	}
	if ce.AccountScoped() {
		for _, d := range digitRun.FindAllString(ce.Message, -1) {
			if slices.Contains(accounts, d) {
				ce.Account = d
				break
			}
		}
		if ce.Account == "" && len(accounts) == 1 {
			ce.Account = accounts[0]
		}
	}
	return ce
}
