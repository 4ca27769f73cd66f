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
// becomes the controller's; codes not listed are CloudError (retried). Exact
// codes win over reasonByPrefix, so a CAM denial inside the AuthFailure family
// is PermissionDenied, not CredentialsInvalid.
var reasonByCode = map[string]cloud.Reason{
	"InvalidImageId.NotFound":                          cloud.ReasonImageNotFound,
	"InvalidImageId.Malformed":                         cloud.ReasonImageNotFound,
	"InvalidRegion.NotFound":                           cloud.ReasonRegionMismatch,
	"InvalidRegion.Unavailable":                        cloud.ReasonRegionMismatch,
	"InvalidParameterValue.InvalidRegion":              cloud.ReasonRegionMismatch,
	"UnsupportedRegion":                                cloud.ReasonRegionMismatch,
	"OverQuota":                                        cloud.ReasonShareLimitExceeded,
	"InvalidParameterValue.LimitExceeded":              cloud.ReasonShareLimitExceeded,
	"FailedOperation.AccountAlreadyExists":             cloud.ReasonAlreadyShared,
	"InvalidAccountId.NotFound":                        cloud.ReasonAccountNotFound,
	"FailedOperation.AccountIsYourSelf":                cloud.ReasonAccountIsOwner,
	"InvalidAccountIs.YourSelf":                        cloud.ReasonAccountIsOwner,
	"FailedOperation.NotMasterAccount":                 cloud.ReasonNotRootAccount,
	"InvalidParameterValue.InvalidAppIdFormat":         cloud.ReasonInvalidAccountID,
	"UnauthorizedOperation.ImageNotBelongToAccount":    cloud.ReasonImageNotShareable,
	"FailedOperation.BYOLImageShareFailed":             cloud.ReasonImageNotShareable,
	"UnsupportedOperation.EncryptedImagesNotSupported": cloud.ReasonImageNotShareable,
	"InvalidParameterValue.InvalidImageState":          cloud.ReasonImageNotReady,
	"InvalidImageId.IncorrectState":                    cloud.ReasonImageNotReady,
	"FailedOperation.InvalidImageState":                cloud.ReasonImageNotReady,
	"ImageQuotaLimitExceeded":                          cloud.ReasonCopyFailed,
	"LimitExceeded.ImageQuotaLimitExceeded":            cloud.ReasonCopyFailed,
	"InvalidImageId.InShared":                          cloud.ReasonImageInUse,
	"AuthFailure.UnauthorizedOperation":                cloud.ReasonPermissionDenied,
	"UnauthorizedOperation":                            cloud.ReasonPermissionDenied,
	"UnauthorizedOperation.InvalidToken":               cloud.ReasonCredentialsInvalid,
	// Tencent's "image sharing failed" codes say nothing about the request:
	// a transient backend failure, retried.
	"FailedOperation.QImageShareFailed": cloud.ReasonCloudError,
	"FailedOperation.RImageShareFailed": cloud.ReasonCloudError,
	"InternalError":                     cloud.ReasonCloudError,
	codeNetworkError:                    cloud.ReasonCloudError,
}

// reasonByOpCode overrides reasonByCode for one action. SyncImages answers
// InvalidRegion.Unavailable for a destination it does not accept: that is the
// copy's failure (the replica region), not a wrong region of the image.
var reasonByOpCode = map[[2]string]cloud.Reason{
	{actionSyncImages, "InvalidRegion.Unavailable"}: cloud.ReasonCopyFailed,
}

// reasonByPrefix covers code families Tencent extends over time.
var reasonByPrefix = []struct {
	prefix string
	reason cloud.Reason
}{
	{"AuthFailure", cloud.ReasonCredentialsInvalid},
	// Every other UnauthorizedOperation.* (CamNoAuth, say) is a CAM denial:
	// only ImageNotBelongToAccount and InvalidToken, listed above, are not.
	{"UnauthorizedOperation", cloud.ReasonPermissionDenied},
	{"RequestLimitExceeded", cloud.ReasonThrottled},
	{"InternalError", cloud.ReasonCloudError},
	{"ClientError", cloud.ReasonCloudError},
}

var (
	digitRun   = regexp.MustCompile(`[0-9]+`)
	regionLike = regexp.MustCompile(`[a-z]{2,}(?:-[a-z0-9]+)+`)
)

// subject is what a call was about: the accounts of a share call, the
// destination regions of a copy. classify attributes a failure to one of
// them when the provider's message names it.
type subject struct {
	accounts []string
	regions  []string
	// audit is the audit line of a call that changes the cloud, nil for a read.
	audit *auditLine
}

// classify turns whatever the SDK returned into a *cloud.Error, once. The
// account the message names becomes Error.Account, so the controller can drop
// it and share the rest; the destination region a copy failure names becomes
// Error.Region.
func classify(op string, err error, about subject) *cloud.Error {
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
	ce.Reason = reasonFor(op, ce.Code)
	named := namedRegion(ce.Message, about.regions)
	if op == actionSyncImages && ce.Reason == cloud.ReasonRegionMismatch && named != "" {
		// Any region code about one of the destinations (not the source
		// region the call was sent to) is that replica's failure.
		ce.Reason = cloud.ReasonCopyFailed
	}
	if ce.Reason == cloud.ReasonCopyFailed {
		ce.Region = named
		if ce.Region == "" && len(about.regions) == 1 {
			ce.Region = about.regions[0]
		}
	}
	if ce.AccountScoped() {
		for _, d := range digitRun.FindAllString(ce.Message, -1) {
			if slices.Contains(about.accounts, d) {
				ce.Account = d
				break
			}
		}
		if ce.Account == "" && len(about.accounts) == 1 {
			ce.Account = about.accounts[0]
		}
	}
	return ce
}

// reasonFor looks code up: per action first, then exact, then by prefix.
func reasonFor(op, code string) cloud.Reason {
	if r, ok := reasonByOpCode[[2]string{op, code}]; ok {
		return r
	}
	if r, ok := reasonByCode[code]; ok {
		return r
	}
	for _, p := range reasonByPrefix {
		if strings.HasPrefix(code, p.prefix) {
			return p.reason
		}
	}
	return cloud.ReasonCloudError
}

// namedRegion returns the first of regions that msg names as a whole word
// (so ap-shanghai is not found inside ap-shanghai-fsi), or "".
func namedRegion(msg string, regions []string) string {
	for _, w := range regionLike.FindAllString(msg, -1) {
		if slices.Contains(regions, w) {
			return w
		}
	}
	return ""
}
