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

import "slices"

func (e *Emulator) describeImageSharePermission(c *call) (any, *apiError) {
	req, apiErr := decode[describeImageSharePermissionRequest](c)
	if apiErr != nil {
		return nil, apiErr
	}
	if req.ImageID == nil || *req.ImageID == "" {
		return nil, missing("ImageId")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	img, apiErr := e.owned(c, *req.ImageID)
	if apiErr != nil {
		return nil, apiErr
	}
	resp := describeImageSharePermissionResponse{SharePermissionSet: []wireSharePermission{}}
	for _, acct := range img.sharedWith() {
		resp.SharePermissionSet = append(resp.SharePermissionSet, wireSharePermission{
			CreatedTime: img.shares[acct].Format(timeLayout),
			AccountID:   acct,
		})
	}
	return resp, nil
}

func (e *Emulator) modifyImageSharePermission(c *call) (any, *apiError) {
	req, apiErr := decode[modifyImageSharePermissionRequest](c)
	if apiErr != nil {
		return nil, apiErr
	}
	switch {
	case req.ImageID == nil || *req.ImageID == "":
		return nil, missing("ImageId")
	case len(req.AccountIds) == 0:
		return nil, missing("AccountIds")
	case req.Permission == nil || *req.Permission == "":
		return nil, missing("Permission")
	case *req.Permission != PermissionShare && *req.Permission != PermissionCancel:
		return nil, errf(CodeInvalidParameterValue, "Permission `%s` is invalid: it must be %s or %s.",
			*req.Permission, PermissionShare, PermissionCancel)
	}
	share := *req.Permission == PermissionShare
	accounts := dedupe(req.AccountIds)
	// The account IDs' format is a parameter check: it comes before any lookup of the image.
	for _, acct := range accounts {
		if !isDigits(acct) {
			return nil, errf(CodeInvalidAppIDFormat,
				"The account ID `%s` is not in a valid format: an account ID is the digits of a root account.", acct)
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	img, apiErr := e.owned(c, *req.ImageID)
	if apiErr != nil {
		return nil, apiErr
	}
	if apiErr := checkShareable(img, share); apiErr != nil {
		return nil, apiErr
	}
	// Every account is checked before anything changes: one bad account fails the whole call.
	for _, acct := range accounts {
		if apiErr := e.checkAccount(c, img, acct, share); apiErr != nil {
			return nil, apiErr
		}
	}
	if share {
		if total := len(img.shares) + len(accounts); total > e.shareLimit {
			return nil, errf(CodeOverQuota,
				"Sharing image `%s` with %d more accounts would make %d shares, over the limit of %d accounts per image.",
				img.id, len(accounts), total, e.shareLimit)
		}
	}
	if apiErr := e.shareFails(img, *req.Permission); apiErr != nil {
		return nil, apiErr
	}
	if !share {
		for _, acct := range accounts {
			delete(img.shares, acct) // an account the image is not shared with is a no-op
		}
		return emptyResponse{}, nil
	}
	now := e.now().UTC()
	for _, acct := range accounts {
		img.shares[acct] = now
	}
	return emptyResponse{}, nil
}

func checkShareable(img *image, share bool) *apiError {
	if failed(img.state) {
		return errf(CodeImageIncorrectState, "The image `%s` is %s; an image whose creation or import failed can "+
			"never be shared or unshared.", img.id, img.state)
	}
	if img.state != StateNormal {
		return errf(CodeInvalidImageState, "The image `%s` is %s; only a NORMAL image can be shared or unshared.",
			img.id, img.state)
	}
	if !share {
		return nil
	}
	if img.license == LicenseBYOL {
		return errf(CodeBYOLShareFailed, "The image `%s` is a BYOL (bring your own license) image, which cannot be shared.",
			img.id)
	}
	if img.encrypted {
		return errf(CodeEncryptedNotSupported, "The image `%s` is encrypted; encrypted images cannot be shared.", img.id)
	}
	return nil
}

// checkAccount validates one account of a SHARE or CANCEL call. Messages name the account verbatim.
func (e *Emulator) checkAccount(c *call, img *image, acct string, share bool) *apiError {
	target, ok := e.accounts[acct]
	switch {
	case !ok:
		return errf(CodeAccountNotFound, "The account ID `%s` does not exist.", acct)
	case acct == c.caller.id:
		return errf(CodeAccountIsYourSelf, "The account `%s` is your own account; an image cannot be shared with itself.",
			acct)
	case !target.root:
		return errf(CodeNotMasterAccount, "The account `%s` is a collaborator account; give the root account instead.",
			acct)
	}
	if _, shared := img.shares[acct]; share && shared {
		return errf(CodeAccountAlreadyExists, "The image `%s` is already shared with account `%s`.", img.id, acct)
	}
	return nil
}

func dedupe(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
