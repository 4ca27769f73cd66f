package tencent

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// maxFilters is the most Filters DescribeImages takes in one call; one goes
// to image-type, the rest to tags (any further tags are matched client-side).
const maxFilters = 10

// createdTimeLayouts are the shapes CreatedTime takes in Tencent's answers:
// ISO 8601 with an offset, and the older "2006-01-02 15:04:05" (UTC+8).
var createdTimeLayouts = []string{time.RFC3339, "2006-01-02 15:04:05"}

// ListPrivateImages implements cloud.Client.
func (c *Client) ListPrivateImages(ctx context.Context, region string, sel cloud.ImageSelector) (
	[]cloud.ListedImage, error) {
	filters := []filter{{Name: "image-type", Values: []string{cloud.ImageTypePrivate}}}
	for _, k := range slices.Sorted(maps.Keys(sel.Tags)) {
		if len(filters) == maxFilters {
			break
		}
		filters = append(filters, filter{Name: "tag:" + k, Values: []string{sel.Tags[k]}})
	}
	slot := "list:" + sel.NamePrefix
	var out []cloud.ListedImage
	for offset := uint64(0); ; offset += maxIDsPerCall {
		req := describeImagesRequest{Filters: filters, Offset: offset, Limit: maxIDsPerCall}
		resp := &describeImagesResponse{BaseResponse: &tchttp.BaseResponse{}}
		if err := c.call(ctx, region, "DescribeImages", slot, req, resp, subject{}); err != nil {
			return nil, err
		}
		for _, img := range resp.Response.ImageSet {
			tags := img.tagMap()
			if img.ImageType != "" && img.ImageType != cloud.ImageTypePrivate || !sel.Matches(img.ImageName, tags) {
				continue
			}
			out = append(out, cloud.ListedImage{ID: img.ImageID, Name: img.ImageName, State: img.ImageState,
				CreatedTime: parseCreatedTime(img.CreatedTime), Tags: tags})
		}
		page := uint64(len(resp.Response.ImageSet))
		if page < maxIDsPerCall || offset+page >= uint64(resp.Response.TotalCount) {
			break
		}
	}
	slices.SortFunc(out, func(a, b cloud.ListedImage) int { return strings.Compare(a.ID, b.ID) })
	return slices.CompactFunc(out, func(a, b cloud.ListedImage) bool { return a.ID == b.ID }), nil
}

func (i image) tagMap() map[string]string {
	if len(i.Tags) == 0 {
		return nil
	}
	out := make(map[string]string, len(i.Tags))
	for _, t := range i.Tags {
		out[t.Key] = t.Value
	}
	return out
}

// parseCreatedTime reads CreatedTime; an unreadable value is the zero time,
// which sorts an image as the oldest rather than failing the whole list.
func parseCreatedTime(s string) time.Time {
	for _, layout := range createdTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if layout != time.RFC3339 {
				t = t.Add(-8 * time.Hour) // Beijing time, the console's zone
			}
			return t.UTC()
		}
	}
	return time.Time{}
}
