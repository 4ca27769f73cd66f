package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// The Op of each *cloud.Error is the Tencent action the real adapter would
// have called, so that messages built from it read as in production.
const (
	opList   = "DescribeImageSharePermission"
	opModify = "ModifyImageSharePermission"
	opSync   = "SyncImages"
	opDelete = "DeleteImages"
)

// DescribeImages implements cloud.Client: the images among ids in region.
func (c *Client) DescribeImages(ctx context.Context, region string, ids []string) (map[string]cloud.Image, error) {
	c.record(Call{Op: "DescribeImages", Region: region, Accounts: ids})
	if c.DescribeImagesFn != nil {
		return c.DescribeImagesFn(ctx, region, ids)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]cloud.Image{}
	for _, id := range ids {
		if e, ok := c.images[key(region, id)]; ok {
			out[id] = e.img
		}
	}
	return out, nil
}

// ListShares implements cloud.Client: the image's shares, sorted.
func (c *Client) ListShares(ctx context.Context, region, imageID string) ([]string, error) {
	c.record(Call{Op: "ListShares", Region: region, ImageID: imageID})
	if c.ListSharesFn != nil {
		return c.ListSharesFn(ctx, region, imageID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.lookup(opList, region, imageID)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(e.shares)), nil
}

// Share implements cloud.Client. Accounts already shared count as done; a
// bad account (AccountErrors) or going over ShareLimit fails the whole call
// and shares nothing, as Tencent does.
func (c *Client) Share(ctx context.Context, region, imageID string, accounts []string) error {
	c.record(Call{Op: "Share", Region: region, ImageID: imageID, Accounts: accounts})
	if c.ShareFn != nil {
		return c.ShareFn(ctx, region, imageID, accounts)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.modifiable(region, imageID, accounts)
	if err != nil {
		return err
	}
	img := e.img
	switch {
	case img.Type != cloud.ImageTypePrivate, img.LicenseType == cloud.LicenseTypeBYOL, img.Encrypted:
		return fail(opModify, cloud.ReasonImageNotShareable, "The image `%s` (%s) cannot be shared", img.ID, img.Type)
	}
	var fresh []string
	for _, a := range accounts {
		if !e.shares[a] && !slices.Contains(fresh, a) {
			fresh = append(fresh, a)
		}
	}
	if total := len(e.shares) + len(fresh); c.ShareLimit > 0 && total > c.ShareLimit {
		return fail(opModify, cloud.ReasonShareLimitExceeded,
			"Sharing image `%s` would make %d shares, over the limit of %d", img.ID, total, c.ShareLimit)
	}
	for _, a := range fresh {
		e.shares[a] = true
	}
	return nil
}

// Cancel implements cloud.Client. Accounts not shared count as done; a bad
// account (AccountErrors) fails the whole call and cancels nothing.
func (c *Client) Cancel(ctx context.Context, region, imageID string, accounts []string) error {
	c.record(Call{Op: "Cancel", Region: region, ImageID: imageID, Accounts: accounts})
	if c.CancelFn != nil {
		return c.CancelFn(ctx, region, imageID, accounts)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.modifiable(region, imageID, accounts)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		delete(e.shares, a)
	}
	return nil
}

// modifiable checks what Share and Cancel have in common: the image exists
// and is not busy, and no account is bad. Callers hold c.mu.
func (c *Client) modifiable(region, imageID string, accounts []string) (*entry, error) {
	e, err := c.lookup(opModify, region, imageID)
	if err != nil {
		return nil, err
	}
	if busy(e.img.State) {
		return nil, fail(opModify, cloud.ReasonImageNotReady, "The image `%s` is %s", imageID, e.img.State)
	}
	for _, a := range accounts {
		if r, bad := c.AccountErrors[a]; bad {
			ce := fail(opModify, r, "The account `%s` cannot be used: %s", a, r)
			ce.Account = a
			return nil, ce
		}
	}
	return e, nil
}

// Regions implements cloud.Client: AcceptedRegions, or the regions that hold
// images, sorted.
func (c *Client) Regions(ctx context.Context) ([]string, error) {
	c.record(Call{Op: "Regions"})
	if c.RegionsFn != nil {
		return c.RegionsFn(ctx)
	}
	if c.AcceptedRegions != nil {
		return slices.Sorted(slices.Values(c.AcceptedRegions)), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.images {
		if !slices.Contains(out, e.img.Region) {
			out = append(out, e.img.Region)
		}
	}
	slices.Sort(out)
	return out, nil
}

// FindImagesByName implements cloud.Client: the private images named name
// in region, sorted by ID.
func (c *Client) FindImagesByName(ctx context.Context, region, name string) ([]cloud.Image, error) {
	c.record(Call{Op: "FindImagesByName", Region: region, Name: name})
	if c.FindImagesByNameFn != nil {
		return c.FindImagesByNameFn(ctx, region, name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cloud.Image
	for _, e := range c.images {
		if e.img.Region == region && e.img.Name == name && e.img.Type == cloud.ImageTypePrivate {
			out = append(out, e.img)
		}
	}
	return sortedIDs(out), nil
}

// Copy implements cloud.Client: a NORMAL private copy named name (the
// source's name when empty) in each destination, with fresh IDs. A
// destination equal to region, or outside AcceptedRegions when that is set,
// fails with CopyFailed naming it in Error.Region and copies nothing. Like
// Tencent, a repeated Copy makes more copies.
func (c *Client) Copy(ctx context.Context, region, imageID string, destinations []string,
	name string) (map[string]string, error) {
	c.record(Call{Op: "Copy", Region: region, ImageID: imageID, Accounts: destinations, Name: name})
	if c.CopyFn != nil {
		return c.CopyFn(ctx, region, imageID, destinations, name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	src, err := c.lookup(opSync, region, imageID)
	if err != nil {
		return nil, err
	}
	if busy(src.img.State) {
		return nil, fail(opSync, cloud.ReasonImageNotReady, "The image `%s` is %s", imageID, src.img.State)
	}
	for _, d := range destinations {
		if d == region || c.AcceptedRegions != nil && !slices.Contains(c.AcceptedRegions, d) {
			ce := fail(opSync, cloud.ReasonCopyFailed, "The destination region `%s` is not accepted", d)
			ce.Region = d
			return nil, ce
		}
	}
	out := map[string]string{}
	for _, d := range destinations {
		c.copies++
		cp := src.img
		cp.ID, cp.Region, cp.Type, cp.State =
			fmt.Sprintf("img-f%07d", c.copies), d, cloud.ImageTypePrivate, cloud.ImageStateNormal
		if name != "" {
			cp.Name = name
		}
		c.images[key(d, cp.ID)] = &entry{img: cp, shares: map[string]bool{}}
		out[d] = cp.ID
	}
	return out, nil
}

// Delete implements cloud.Client: it refuses (ImageInUse) while the image is
// shared, as Tencent does.
func (c *Client) Delete(ctx context.Context, region, imageID string) error {
	c.record(Call{Op: "Delete", Region: region, ImageID: imageID})
	if c.DeleteFn != nil {
		return c.DeleteFn(ctx, region, imageID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.lookup(opDelete, region, imageID)
	if err != nil {
		return err
	}
	if len(e.shares) > 0 {
		return fail(opDelete, cloud.ReasonImageInUse, "The image `%s` is shared with %d accounts", imageID, len(e.shares))
	}
	delete(c.images, key(region, imageID))
	return nil
}

// ListPrivateImages implements cloud.Client: the private images in region
// that sel matches, sorted by ID, with the metadata SetMeta gave them.
func (c *Client) ListPrivateImages(ctx context.Context, region string, sel cloud.ImageSelector) (
	[]cloud.ListedImage, error) {
	c.record(Call{Op: "ListPrivateImages", Region: region, Name: sel.NamePrefix, Tags: sel.Tags})
	if c.ListPrivateImagesFn != nil {
		return c.ListPrivateImagesFn(ctx, region, sel)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cloud.ListedImage
	for _, e := range c.images {
		if e.img.Region != region || e.img.Type != cloud.ImageTypePrivate || !sel.Matches(e.img.Name, e.tags) {
			continue
		}
		out = append(out, cloud.ListedImage{ID: e.img.ID, Name: e.img.Name, State: e.img.State,
			CreatedTime: e.created, Tags: maps.Clone(e.tags)})
	}
	slices.SortFunc(out, func(a, b cloud.ListedImage) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
