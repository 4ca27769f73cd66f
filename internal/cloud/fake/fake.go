// Package fake is an in-memory cloud.Client and cloud.Factory for fast
// reconciler unit tests, in the style of external-secrets' fake provider:
// each method has an optional function field that replaces the default
// behaviour, and the default is a small model of Tencent's image sharing
// (images by region and ID, with their shares) that keeps the cloud.Client
// contract: Share and Cancel are idempotent and errors are *cloud.Error.
//
// Use the emulator (internal/emulator) when the wire, the SDK or the exact
// Tencent error codes matter; use this package when only the controller's
// decisions do.
package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Call is one recorded call to a Client.
type Call struct {
	// Op is the cloud.Client method called, e.g. "Share".
	Op string
	// Region is the region argument ("" for Regions).
	Region string
	// ImageID is the image argument, when the method takes one.
	ImageID string
	// Accounts are Share's and Cancel's accounts, DescribeImages' IDs, or
	// Copy's destination regions, as passed.
	Accounts []string
	// Name is FindImagesByName's and Copy's name argument, and
	// ListPrivateImages' name prefix.
	Name string
	// Tags are ListPrivateImages' selector tags, as passed.
	Tags map[string]string
}

// Client is an in-memory cloud.Client. Set the function fields and the
// options before the client is used; the image state and call log are safe
// for concurrent use.
type Client struct {
	// DescribeImagesFn, when set, replaces the default DescribeImages.
	DescribeImagesFn func(ctx context.Context, region string, ids []string) (map[string]cloud.Image, error)
	// ListSharesFn, when set, replaces the default ListShares.
	ListSharesFn func(ctx context.Context, region, imageID string) ([]string, error)
	// ShareFn, when set, replaces the default Share.
	ShareFn func(ctx context.Context, region, imageID string, accounts []string) error
	// CancelFn, when set, replaces the default Cancel.
	CancelFn func(ctx context.Context, region, imageID string, accounts []string) error
	// RegionsFn, when set, replaces the default Regions.
	RegionsFn func(ctx context.Context) ([]string, error)
	// FindImagesByNameFn, when set, replaces the default FindImagesByName.
	FindImagesByNameFn func(ctx context.Context, region, name string) ([]cloud.Image, error)
	// CopyFn, when set, replaces the default Copy.
	CopyFn func(ctx context.Context, region, imageID string, destinations []string, name string) (map[string]string, error)
	// DeleteFn, when set, replaces the default Delete.
	DeleteFn func(ctx context.Context, region, imageID string) error
	// ListPrivateImagesFn, when set, replaces the default ListPrivateImages.
	ListPrivateImagesFn func(ctx context.Context, region string, sel cloud.ImageSelector) ([]cloud.ListedImage, error)

	// ShareLimit, when positive, is the most accounts an image may be shared
	// with; a Share that would go over fails with ShareLimitExceeded and
	// shares nothing, as Tencent's OverQuota does.
	ShareLimit int
	// AccountErrors makes Share and Cancel fail the whole call with the given
	// account-scoped reason (AccountNotFound, AccountIsOwner, ...) when the
	// account is among theirs, naming it in Error.Account.
	AccountErrors map[string]cloud.Reason
	// AcceptedRegions, when set, is what Regions answers and the only
	// destinations Copy accepts; when nil, Regions answers the regions that
	// hold images and Copy accepts any other region.
	AcceptedRegions []string

	mu     sync.Mutex
	images map[string]*entry // by region/ID
	calls  []Call
	copies int
}

type entry struct {
	img    cloud.Image
	shares map[string]bool
	// created and tags are what ListPrivateImages reports (SetMeta).
	created time.Time
	tags    map[string]string
}

var _ cloud.Client = (*Client)(nil)

// NewClient returns an empty fake cloud.
func NewClient() *Client {
	return &Client{images: map[string]*entry{}}
}

func key(region, id string) string { return region + "/" + id }

// AddImage puts img (its Region and ID say where) in the fake cloud, shared
// with shares; an image already there is replaced. Empty Type and State
// default to a private, NORMAL image.
func (c *Client) AddImage(img cloud.Image, shares ...string) {
	if img.Type == "" {
		img.Type = cloud.ImageTypePrivate
	}
	if img.State == "" {
		img.State = cloud.ImageStateNormal
	}
	e := &entry{img: img, shares: map[string]bool{}}
	for _, a := range shares {
		e.shares[a] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.images[key(img.Region, img.ID)] = e
}

// SetMeta sets the creation time and tags ListPrivateImages reports for an
// image. It reports whether the image exists.
func (c *Client) SetMeta(region, imageID string, created time.Time, tags map[string]string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.images[key(region, imageID)]
	if ok {
		e.created, e.tags = created, maps.Clone(tags)
	}
	return ok
}

// SetState changes an image's state, e.g. to let a SYNCING copy finish.
// It reports whether the image exists.
func (c *Client) SetState(region, imageID, state string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.images[key(region, imageID)]
	if ok {
		e.img.State = state
	}
	return ok
}

// Image returns an image of the fake cloud and whether it exists.
func (c *Client) Image(region, imageID string) (cloud.Image, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.images[key(region, imageID)]
	if !ok {
		return cloud.Image{}, false
	}
	return e.img, true
}

// Shares returns the accounts an image is shared with, sorted (nil when the
// image does not exist), without recording a call.
func (c *Client) Shares(region, imageID string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.images[key(region, imageID)]; ok {
		return slices.Sorted(maps.Keys(e.shares))
	}
	return nil
}

// Calls returns a copy of the calls made so far, in order.
func (c *Client) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Call, len(c.calls))
	for i, call := range c.calls {
		call.Accounts = slices.Clone(call.Accounts)
		call.Tags = maps.Clone(call.Tags)
		out[i] = call
	}
	return out
}

// CallsTo returns the recorded calls of one method (an Op), in order.
func (c *Client) CallsTo(op string) []Call {
	return slices.DeleteFunc(c.Calls(), func(call Call) bool { return call.Op != op })
}

// ResetCalls forgets the calls recorded so far.
func (c *Client) ResetCalls() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = nil
}

func (c *Client) record(call Call) {
	call.Accounts = slices.Clone(call.Accounts)
	call.Tags = maps.Clone(call.Tags)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
}

// fail builds the *cloud.Error the default behaviours return; Code is made
// up ("Fake." plus the reason) so that no test depends on it.
func fail(op string, reason cloud.Reason, format string, args ...any) *cloud.Error {
	return &cloud.Error{Op: op, Code: "Fake." + string(reason), Reason: reason,
		Message: fmt.Sprintf(format, args...), RequestID: "fake"}
}

// lookup returns the image or an ImageNotFound error. Callers hold c.mu.
func (c *Client) lookup(op, region, imageID string) (*entry, error) {
	e, ok := c.images[key(region, imageID)]
	if !ok {
		return nil, fail(op, cloud.ReasonImageNotFound, "The image `%s` does not exist in region %s", imageID, region)
	}
	return e, nil
}

func busy(state string) bool {
	switch state {
	case cloud.ImageStateCreating, cloud.ImageStateSyncing, cloud.ImageStateImporting:
		return true
	}
	return false
}

// sortedIDs sorts images by ID, so results do not depend on map order.
func sortedIDs(images []cloud.Image) []cloud.Image {
	slices.SortFunc(images, func(a, b cloud.Image) int { return strings.Compare(a.ID, b.ID) })
	return images
}
