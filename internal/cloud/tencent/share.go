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

func (c *Client) modify(ctx context.Context, region, imageID, permission string, accounts []string) error {
	for chunk := range slices.Chunk(accounts, maxIDsPerCall) {
		if err := c.modifyChunk(ctx, region, imageID, permission, chunk); err != nil {
			return err
		}
	}
	return nil
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

// modifyChunk sends one SHARE or CANCEL of at most maxIDsPerCall accounts.
// An already-done answer naming an account drops that account (it counts as
// done) and sends the rest again; one not naming which account falls back to
// one call per account. Either way each extra call settles at least one
// account, so a chunk costs at most len(chunk) extra calls. Every other
// failure is returned as is: an account-scoped one names Error.Account, and
// the caller splits around it.
func (c *Client) modifyChunk(ctx context.Context, region, imageID, permission string, chunk []string) error {
	send := func(attempt int, accounts []string) error {
		req := modifyImageSharePermissionRequest{ImageID: imageID, AccountIDs: accounts, Permission: permission}
		resp := &modifyImageSharePermissionResponse{BaseResponse: &tchttp.BaseResponse{}}
		// Each attempt has its own rate-limit slot: a retry throttled here
		// books a slot of its own and does not take the one its first
		// attempt will use when the caller comes back.
		slot := imageID
		if attempt > 0 {
			slot = fmt.Sprintf("%s#%d", imageID, attempt)
		}
		return c.call(ctx, region, actionModifyShare, slot, req, resp, subject{accounts: accounts,
			audit: shareAudit(imageID, permission, accounts)})
	}
	isDone := func(err error) (*cloud.Error, bool) {
		ce := cloud.AsError(err)
		return ce, ce != nil && slices.Contains(alreadyDone[permission], ce.Code)
	}
	pending := slices.Clone(chunk)
	attempt := 0
	for len(pending) > 0 {
		err := send(attempt, pending)
		attempt++
		ce, done := isDone(err)
		switch {
		case err == nil:
			return nil
		case !done:
			return err
		case ce.Account != "":
			pending = slices.DeleteFunc(pending, func(a string) bool { return a == ce.Account })
			continue
		}
		// Already done for an account the message does not name: settle
		// the accounts one by one.
		for _, a := range pending {
			err := send(attempt, []string{a})
			attempt++
			if _, done := isDone(err); err != nil && !done {
				return err
			}
		}
		return nil
	}
	return nil
}
