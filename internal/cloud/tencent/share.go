package tencent

import (
	"context"
	"fmt"
	"slices"

	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Share implements cloud.Client.
func (c *Client) Share(ctx context.Context, region, imageID string, accounts []string) error {
	return c.modify(ctx, region, imageID, permissionShare, accounts)
}

// Cancel implements cloud.Client.
func (c *Client) Cancel(ctx context.Context, region, imageID string, accounts []string) error {
	return c.modify(ctx, region, imageID, permissionCancel, accounts)
}

const (
	permissionShare  = "SHARE"
	permissionCancel = "CANCEL"
)

// alreadyDone lists, per permission, the codes with which Tencent refuses a
// whole call because one account is already in the state asked for. Tencent
// is not idempotent there; the adapter is, by retrying without that account.
// Neither Tencent's documented CVM codes nor the emulator have such an answer
// for CANCEL (cancelling an account the image is not shared with succeeds),
// so CANCEL has no entry; one added here would be handled the same way.
var alreadyDone = map[string][]string{
	permissionShare:  {"FailedOperation.AccountAlreadyExists"},
	permissionCancel: nil,
}

// modify sends a SHARE or CANCEL through cloud.SendInBatches: an
// already-done answer sets its account aside as done (the rest is sent
// again), every other failure is returned as is (an account-scoped one names
// Error.Account, and the caller splits around it).
func (c *Client) modify(ctx context.Context, region, imageID, permission string, accounts []string) error {
	attempt := 0
	send := func(batch []string) error {
		req := modifyImageSharePermissionRequest{ImageID: imageID, AccountIDs: batch, Permission: permission}
		resp := &modifyImageSharePermissionResponse{BaseResponse: &tchttp.BaseResponse{}}
		// Each attempt has its own rate-limit slot: a retry throttled here
		// books a slot of its own and does not take the one its first
		// attempt will use when the caller comes back.
		slot := imageID
		if attempt > 0 {
			slot = fmt.Sprintf("%s#%d", imageID, attempt)
		}
		attempt++
		return c.call(ctx, region, actionModifyShare, slot, req, resp, subject{accounts: batch,
			audit: shareAudit(imageID, permission, batch)})
	}
	alreadyDone := func(err error) bool {
		ce := cloud.AsError(err)
		return ce != nil && slices.Contains(alreadyDone[permission], ce.Code)
	}
	_, err := cloud.SendInBatches(accounts, 0, send, alreadyDone)
	return err
}
