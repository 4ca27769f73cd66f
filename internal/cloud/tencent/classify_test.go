package tencent

import (
	"context"
	"errors"
	"fmt"
	"testing"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// TestClassifyTable covers the codes the emulator cannot produce: each row is
// one answer Tencent documents, fed to classify as the SDK would return it.
func TestClassifyTable(t *testing.T) {
	const share, sync, describe = actionModifyShare, actionSyncImages, "DescribeImages"
	accts := subject{accounts: []string{r2, r4}}
	dests := subject{regions: []string{sh, "ap-shanghai-fsi", "ap-tokyo"}}
	oneDest := subject{regions: []string{"ap-tokyo"}}
	cases := []struct {
		name     string
		op, code string
		message  string
		about    subject
		reason   cloud.Reason
		account  string
		region   string
		terminal bool
	}{
		{"CAM denial", share, "AuthFailure.UnauthorizedOperation", "no CAM policy allows cvm:ModifyImageSharePermission",
			accts, cloud.ReasonPermissionDenied, "", "", true},
		{"bare CAM denial", describe, "UnauthorizedOperation", "not authorized", subject{},
			cloud.ReasonPermissionDenied, "", "", true},
		{"CAM denial, a code of the family", share, "UnauthorizedOperation.CamNoAuth", "no permission", accts,
			cloud.ReasonPermissionDenied, "", "", true},
		{"image of another account", share, "UnauthorizedOperation.ImageNotBelongToAccount", "not yours", accts,
			cloud.ReasonImageNotShareable, "", "", true},
		{"invalid token", describe, "UnauthorizedOperation.InvalidToken", "bad token", subject{},
			cloud.ReasonCredentialsInvalid, "", "", true},
		{"other AuthFailure", describe, "AuthFailure.SecretIdNotFound", "no such key", subject{},
			cloud.ReasonCredentialsInvalid, "", "", true},
		{"token failure", describe, "AuthFailure.TokenFailure", "token expired", subject{},
			cloud.ReasonCredentialsInvalid, "", "", true},
		{"own account, InvalidAccountIs", share, "InvalidAccountIs.YourSelf", "account " + r4 + " is yourself", accts,
			cloud.ReasonAccountIsOwner, r4, "", true},
		{"own account, FailedOperation", share, "FailedOperation.AccountIsYourSelf", "account " + r2, accts,
			cloud.ReasonAccountIsOwner, r2, "", true},
		{"malformed account ID", share, "InvalidParameterValue.InvalidAppIdFormat", "bad AppId " + r4, accts,
			cloud.ReasonInvalidAccountID, r4, "", true},
		{"malformed account ID, one account", share, "InvalidParameterValue.InvalidAppIdFormat", "bad AppId",
			subject{accounts: []string{"12ab"}}, cloud.ReasonInvalidAccountID, "12ab", "", true},
		{"QImageShareFailed", share, "FailedOperation.QImageShareFailed", "image sharing failed", accts,
			cloud.ReasonCloudError, "", "", false},
		{"RImageShareFailed", share, "FailedOperation.RImageShareFailed", "image sharing failed", accts,
			cloud.ReasonCloudError, "", "", false},
		{"image busy, IncorrectState", share, "InvalidImageId.IncorrectState", "image is SYNCING", accts,
			cloud.ReasonImageNotReady, "", "", false},
		{"image busy, FailedOperation", sync, "FailedOperation.InvalidImageState", "image is CREATING", dests,
			cloud.ReasonImageNotReady, "", "", false},
		{"destination unavailable, named", sync, "InvalidRegion.Unavailable", "region `ap-tokyo` is unavailable",
			dests, cloud.ReasonCopyFailed, "", "ap-tokyo", true},
		{"destination unavailable, whole word", sync, "InvalidRegion.Unavailable", "ap-shanghai-fsi is unavailable",
			dests, cloud.ReasonCopyFailed, "", "ap-shanghai-fsi", true},
		{"destination unavailable, only one", sync, "InvalidRegion.Unavailable", "region unavailable", oneDest,
			cloud.ReasonCopyFailed, "", "ap-tokyo", true},
		{"destination unavailable, unnamed", sync, "InvalidRegion.Unavailable", "region unavailable", dests,
			cloud.ReasonCopyFailed, "", "", true},
		{"destination does not exist", sync, "InvalidRegion.NotFound", "The destination region `ap-tokyo` does not exist.",
			dests, cloud.ReasonCopyFailed, "", "ap-tokyo", true},
		{"source region does not exist", sync, "InvalidRegion.NotFound", "The region `xx-nowhere` does not exist.",
			oneDest, cloud.ReasonRegionMismatch, "", "", true},
		{"unavailable region elsewhere", describe, "InvalidRegion.Unavailable", "region `ap-tokyo` is unavailable",
			subject{}, cloud.ReasonRegionMismatch, "", "", true},
		{"image quota in a destination", sync, "ImageQuotaLimitExceeded", "quota of account 1 in ap-shanghai is full",
			dests, cloud.ReasonCopyFailed, "", sh, true},
		{"already shared", share, "FailedOperation.AccountAlreadyExists", "shared with account `" + r4 + "`", accts,
			cloud.ReasonAlreadyShared, r4, "", false},
		{"throttled", describe, "RequestLimitExceeded.UinLimitExceeded", "slow down", subject{},
			cloud.ReasonThrottled, "", "", false},
		{"unknown code", describe, "FailedOperation.SomethingNew", "?", subject{}, cloud.ReasonCloudError, "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ce := classify(tc.op, tcerr.NewTencentCloudSDKError(tc.code, tc.message, "req-1"), tc.about)
			if ce.Reason != tc.reason || ce.Account != tc.account || ce.Region != tc.region {
				t.Fatalf("got reason %s account %q region %q, want %s %q %q", ce.Reason, ce.Account, ce.Region,
					tc.reason, tc.account, tc.region)
			}
			if ce.Terminal() != tc.terminal {
				t.Fatalf("Terminal() = %v, want %v", ce.Terminal(), tc.terminal)
			}
			if ce.Op != tc.op || ce.Code != tc.code || ce.RequestID != "req-1" {
				t.Fatalf("lost the call's identity: %+v", ce)
			}
		})
	}
}

func TestClassifyNonSDKErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("send: %w", context.DeadlineExceeded), "ClientError.Timeout"},
		{context.Canceled, "ClientError.Canceled"},
		{errors.New("connection refused"), codeNetworkError},
	} {
		ce := classify("DescribeImages", tc.err, subject{})
		if ce.Code != tc.code || ce.Reason != cloud.ReasonCloudError {
			t.Errorf("%v: got %s %s, want %s CloudError", tc.err, ce.Code, ce.Reason, tc.code)
		}
	}
}

// TestAccountScopedReasons: the controller splits a share around exactly these.
func TestAccountScopedReasons(t *testing.T) {
	for _, r := range []cloud.Reason{cloud.ReasonAccountNotFound, cloud.ReasonAccountIsOwner,
		cloud.ReasonNotRootAccount, cloud.ReasonInvalidAccountID} {
		if e := (&cloud.Error{Reason: r}); !e.AccountScoped() || !e.Terminal() {
			t.Errorf("%s: account-scoped %v terminal %v, want both", r, e.AccountScoped(), e.Terminal())
		}
	}
	if e := (&cloud.Error{Reason: cloud.ReasonPermissionDenied}); e.AccountScoped() || !e.Terminal() {
		t.Errorf("PermissionDenied must be terminal and not account-scoped")
	}
}
