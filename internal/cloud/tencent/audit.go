package tencent

import (
	"context"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// auditLine is the info line a call that changes the cloud (SHARE, CANCEL,
// SyncImages, DeleteImages) writes once it was sent: an audit trail that
// outlives the Kubernetes events. It carries what was asked, Tencent's
// RequestId (what Tencent support and CloudAudit look calls up by) and, on
// failure, the error code; whatever the caller put in the context's logger
// (the controller adds the ImageShares the call is for) comes along. It never
// holds credentials, nor the provider's message, which is free text.
type auditLine struct {
	action, imageID string
	// done and failed are the messages for an answered success and for a failure.
	done, failed string
	kv           []any
}

// shareAudit is the audit line of one ModifyImageSharePermission call.
func shareAudit(imageID, permission string, accounts []string) *auditLine {
	a := &auditLine{action: actionModifyShare, imageID: imageID, kv: []any{"permission", permission,
		"accounts", accounts}}
	if permission == permissionCancel {
		a.done, a.failed = "Cancelled image shares", "Could not cancel image shares"
	} else {
		a.done, a.failed = "Shared image with accounts", "Could not share image with accounts"
	}
	return a
}

// requestIDer is every response of a call that changes the cloud.
type requestIDer interface{ requestID() string }

func (r *modifyImageSharePermissionResponse) requestID() string { return r.Response.RequestID }
func (r *syncImagesResponse) requestID() string                 { return r.Response.RequestID }
func (r *deleteImagesResponse) requestID() string               { return r.Response.RequestID }

// copies is what a SyncImages call made: the new image ID per region.
func (r *syncImagesResponse) copies() map[string]string {
	out := make(map[string]string, len(r.Response.ImageSet))
	for _, img := range r.Response.ImageSet {
		out[img.Region] = img.ImageID
	}
	return out
}

// write logs the line for a call sent to region that answered resp, or
// failed with ce (which has the RequestId when Tencent answered at all; a
// call that got no answer may or may not have taken effect, and says so by
// its code). A nil line, a read, writes nothing.
func (a *auditLine) write(ctx context.Context, region string, resp any, ce *cloud.Error) {
	if a == nil {
		return
	}
	log := logf.FromContext(ctx).WithValues(append([]any{labelAction, a.action, "imageId", a.imageID,
		"imageRegion", region}, a.kv...)...)
	if ce != nil {
		log.Info(a.failed, "requestId", ce.RequestID, "code", ce.Code)
		return
	}
	var id string
	if r, ok := resp.(requestIDer); ok {
		id = r.requestID()
	}
	if r, ok := resp.(*syncImagesResponse); ok {
		log = log.WithValues("copies", r.copies())
	}
	log.Info(a.done, "requestId", id)
}
