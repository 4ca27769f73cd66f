// Package cloud is the small surface of Tencent Cloud CVM that the controller
// needs. The controller owns this interface; adapters (internal/cloud/tencent)
// implement it and translate every provider error into an *Error once, so that
// no SDK type or error code leaks into the reconcile logic.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Image types as DescribeImages reports them.
const (
	ImageTypePrivate = "PRIVATE_IMAGE"
	ImageTypeShared  = "SHARED_IMAGE"
	ImageTypePublic  = "PUBLIC_IMAGE"
	ImageTypeMarket  = "MARKET_IMAGE"
)

// Image states as DescribeImages reports them.
const (
	ImageStateNormal    = "NORMAL"
	ImageStateCreating  = "CREATING"
	ImageStateSyncing   = "SYNCING"
	ImageStateImporting = "IMPORTING"
)

// LicenseTypeBYOL marks a bring-your-own-license image, which Tencent refuses to share.
const LicenseTypeBYOL = "BYOL"

// Image is what the controller needs to know about one image.
type Image struct {
	ID          string
	Name        string
	Region      string
	Type        string
	State       string
	LicenseType string
	Encrypted   bool
}

// Credentials are one Tencent Cloud API key pair, with an optional STS token.
type Credentials struct {
	SecretID  string
	SecretKey string
	Token     string
	// Role is the CAM role temporary credentials act as (an assumed role's
	// ARN, the TKE OIDC role, the CVM instance role), or "" for API keys. It
	// names the cloud identity across refreshes, when the keys change.
	Role string
}

// String never prints the key or the token, so that credentials formatted by
// mistake into a log line or an error do not leak.
func (c Credentials) String() string {
	if c.Role != "" {
		return fmt.Sprintf("Credentials{SecretID: %q, SecretKey: <redacted>, Role: %q}", c.SecretID, c.Role)
	}
	return fmt.Sprintf("Credentials{SecretID: %q, SecretKey: <redacted>}", c.SecretID)
}

// GoString keeps %#v as safe as %v.
func (c Credentials) GoString() string { return c.String() }

type lowPriorityKey struct{}

// WithLowPriority marks calls made with ctx as background work (a periodic
// resync): they take a rate-limit token only when one is free now and never
// book a future slot, so they always yield to work a user is waiting for.
func WithLowPriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, lowPriorityKey{}, true)
}

// IsLowPriority reports whether ctx carries WithLowPriority.
func IsLowPriority(ctx context.Context) bool {
	v, _ := ctx.Value(lowPriorityKey{}).(bool)
	return v
}

// Client is a CVM API client bound to one set of credentials.
//
// The contract every implementation keeps, so that a reconcile can call it
// without guarding against the provider:
//
//   - Idempotent. Every method may be called again with the same arguments
//     after a crash, a timeout or a lost answer, and the outcome is the same:
//     sharing an account that is already shared, or cancelling one that is not
//     shared, succeeds. Copy is the exception the caller handles: a repeated
//     Copy makes a second copy, which is why FindImagesByName exists.
//   - Never blocks a worker beyond one call. An implementation does not sleep
//     for a rate limit, a retry or a backoff. The client-side limiter (per
//     credential and action) never waits: with no token free now, the call
//     books the next free slot for that request and fails at once with
//     ReasonThrottled and Error.RetryAfter set to when the slot comes; the
//     caller requeues and its retry of the same request uses the booked slot.
//     A WithLowPriority call books nothing and is told to come back later.
//     Likewise, while the endpoint is not answering, calls fail at once with
//     ReasonCloudError and RetryAfter instead of dialling it. A method may
//     make a few calls in sequence (chunks of IDs, the retries that make Share
//     and Cancel idempotent), each bounded by the call timeout.
//   - Errors are *Error, classified once by the adapter: the caller switches
//     on Error.Reason and never sees a provider code or SDK type. An error
//     not carrying an *Error (a bug) is treated as CloudError by ReasonOf.
type Client interface {
	// DescribeImages returns the images among ids that the caller can see in
	// region, keyed by ID. Missing IDs are simply absent: that is not an error.
	DescribeImages(ctx context.Context, region string, ids []string) (map[string]Image, error)
	// ListShares returns the account IDs the image is shared with, sorted.
	ListShares(ctx context.Context, region, imageID string) ([]string, error)
	// Share shares the image with accounts. An account already shared counts
	// as success, so ReasonAlreadyShared never comes out of Share. Tencent
	// fails the whole call when one account is bad (AccountScoped reasons);
	// the *Error then names it in Account, nothing was shared by that call,
	// and the caller retries without it.
	Share(ctx context.Context, region, imageID string, accounts []string) error
	// Cancel cancels the image's shares with accounts. An account the image
	// is not shared with counts as success; a bad account fails the whole call
	// as for Share, naming it in Account.
	Cancel(ctx context.Context, region, imageID string, accounts []string) error
	// Regions lists the regions the account can use, sorted: the caller names
	// them when a copy to a region the API does not accept fails.
	Regions(ctx context.Context) ([]string, error)
	// FindImagesByName returns the caller's own images named name in region:
	// how a copy made before a crash is found again instead of copied twice.
	FindImagesByName(ctx context.Context, region, name string) ([]Image, error)
	// Copy copies the image to the destination regions (SyncImages) under the
	// name given and returns the new image ID in each region. A destination
	// the API refuses is ReasonCopyFailed with Error.Region naming it when
	// the provider's answer allows.
	Copy(ctx context.Context, region, imageID string, destinations []string, name string) (map[string]string, error)
	// Delete deletes an image; Tencent refuses while it is shared
	// (ReasonImageInUse).
	Delete(ctx context.Context, region, imageID string) error
	// ListPrivateImages returns the caller's own images (PRIVATE_IMAGE, in
	// any state) in region that sel matches, sorted by ID. Tags are filtered
	// by the provider (tag:<key>), the name prefix client-side; the whole
	// list is read, page by page (100 images a call), so a failed page fails
	// the call and no partial list is ever returned. Images shared to the
	// caller, public and marketplace images are never listed.
	ListPrivateImages(ctx context.Context, region string, sel ImageSelector) ([]ListedImage, error)
}

// Factory makes a Client for a set of credentials. Implementations should
// reuse clients (and their rate limiters) for equal credentials.
type Factory interface {
	// ClientFor returns the Client for creds; it fails only when creds are
	// unusable (e.g. an empty key), never by calling the cloud.
	ClientFor(creds Credentials) (Client, error)
}

// Reason is why a call failed, in the vocabulary of the ImageShare status
// (contract §3); the adapter picks it once per error code.
type Reason string

// Reasons for failures. Terminal ones need a spec or outside change; the
// others are retried.
const (
	// ReasonImageNotFound: the image does not exist in the region (terminal).
	ReasonImageNotFound Reason = "ImageNotFound"
	// ReasonRegionMismatch: the region is invalid or unsupported (terminal).
	ReasonRegionMismatch Reason = "RegionMismatch"
	// ReasonImageNotShareable: shared-to-me, public, BYOL or encrypted image (terminal).
	ReasonImageNotShareable Reason = "ImageNotShareable"
	// ReasonShareLimitExceeded: the image's share quota is full (terminal).
	ReasonShareLimitExceeded Reason = "ShareLimitExceeded"
	// ReasonCredentialsInvalid: AuthFailure.* (terminal until the Secret changes).
	ReasonCredentialsInvalid Reason = "CredentialsInvalid"
	// ReasonPermissionDenied: the credentials are valid but CAM denies the
	// action, named in Error.Op (terminal until the policy changes).
	ReasonPermissionDenied Reason = "PermissionDenied"
	// ReasonAccountNotFound: a listed account does not exist (terminal for that account).
	ReasonAccountNotFound Reason = "AccountNotFound"
	// ReasonAccountIsOwner: a listed account is the image owner (terminal for that account).
	ReasonAccountIsOwner Reason = "AccountIsOwner"
	// ReasonNotRootAccount: a listed account is a collaborator (terminal for that account).
	ReasonNotRootAccount Reason = "NotRootAccount"
	// ReasonInvalidAccountID: a listed account is not a well-formed account
	// ID (terminal for that account).
	ReasonInvalidAccountID Reason = "InvalidAccountId"
	// ReasonAlreadyShared: SHARE of an account that is already shared. The
	// adapter's Share absorbs it (the account counts as shared), so callers
	// of Client.Share never see it; it stays for adapters' internal use.
	ReasonAlreadyShared Reason = "AlreadyShared"
	// ReasonCopyFailed: a copy to another region was refused, e.g. the image
	// quota there is full or the API does not accept the region; Error.Region
	// names the region when known (terminal for that region).
	ReasonCopyFailed Reason = "CopyFailed"
	// ReasonImageInUse: a copy cannot be deleted while it is shared (retried).
	ReasonImageInUse Reason = "ImageInUse"
	// ReasonImageNotReady: the image is busy (CREATING, SYNCING, ...); retried.
	ReasonImageNotReady Reason = "ImageNotReady"
	// ReasonThrottled: RequestLimitExceeded*; retried with backoff.
	ReasonThrottled Reason = "Throttled"
	// ReasonCloudError: InternalError, network errors, timeouts, unknown codes; retried.
	ReasonCloudError Reason = "CloudError"
)

// Error is a classified CVM API failure.
type Error struct {
	// Op is the action that failed, e.g. ModifyImageSharePermission.
	Op string
	// Code is the provider's error code, e.g. InvalidAccountId.NotFound.
	Code string
	// Message is the provider's message; it never contains credentials.
	Message string
	// Reason is the status reason the failure maps to.
	Reason Reason
	// Account is the account the failure is about, when the provider named one.
	Account string
	// Region is the destination region a copy failure (ReasonCopyFailed) is
	// about: the one the provider's message names, or the only destination.
	Region string
	// RequestID identifies the call for the provider's support.
	RequestID string
	// RetryAfter, when set, is how long to wait before trying again (a
	// client-side rate limit knows exactly when its next token is due).
	RetryAfter time.Duration
	// Booked: RetryAfter is a rate-limit slot held for this very request
	// (not a background call told to come back later): the caller should
	// be back on time.
	Booked bool
}

// Error formats the failure as "Op: Code: Message (RequestId ...)".
func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s: %s", e.Op, e.Code, e.Message)
	if e.RequestID != "" {
		s += " (RequestId " + e.RequestID + ")"
	}
	return s
}

// Terminal reports whether retrying without a spec or outside change is pointless.
func (e *Error) Terminal() bool {
	switch e.Reason {
	case ReasonImageNotReady, ReasonThrottled, ReasonCloudError, ReasonAlreadyShared, ReasonImageInUse:
		return false
	}
	return true
}

// AccountScoped reports whether the failure concerns one listed account rather
// than the image or the call, so the other accounts can still be shared.
func (e *Error) AccountScoped() bool {
	switch e.Reason {
	case ReasonAccountNotFound, ReasonAccountIsOwner, ReasonNotRootAccount, ReasonInvalidAccountID,
		ReasonAlreadyShared:
		return true
	}
	return false
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	if ce, ok := errors.AsType[*Error](err); ok {
		return ce
	}
	return nil
}

// ReasonOf returns the reason for err; unclassified errors are CloudError so
// that anything unexpected is retried, never mistaken for a terminal verdict.
func ReasonOf(err error) Reason {
	if ce := AsError(err); ce != nil {
		return ce.Reason
	}
	return ReasonCloudError
}

// IsTerminal reports whether err needs a spec or outside change.
func IsTerminal(err error) bool {
	ce := AsError(err)
	return ce != nil && ce.Terminal()
}
