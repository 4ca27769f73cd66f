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

import (
	"maps"
	"slices"
	"strings"
	"time"
)

func (e *Emulator) describeImages(c *call) (any, *apiError) {
	req, apiErr := decode[describeImagesRequest](c)
	if apiErr != nil {
		return nil, apiErr
	}
	if len(req.ImageIds) > 0 && len(req.Filters) > 0 {
		return nil, errf(CodeCoexistIDsFilters, "ImageIds and Filters cannot be specified at the same time.")
	}
	for _, id := range req.ImageIds {
		if !imageIDPattern.MatchString(id) {
			return nil, malformedImageID(id)
		}
	}
	if apiErr := checkFilters(req.Filters); apiErr != nil {
		return nil, apiErr
	}
	limit := uint64(defaultLimit)
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > maxLimit {
			return nil, errf(CodeValueRange, "Limit %d is out of range: it must be between 1 and %d.", *req.Limit, maxLimit)
		}
		limit = *req.Limit
	}
	var offset uint64
	if req.Offset != nil {
		offset = *req.Offset
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	now := e.now()
	matched := []*image{}
	for _, id := range slices.Sorted(maps.Keys(e.images)) {
		img := e.images[id]
		if img.region != c.region || !img.visibleTo(c.caller.id) || img.hidden(now) {
			continue
		}
		if len(req.ImageIds) > 0 && !slices.Contains(req.ImageIds, id) {
			continue
		}
		if matchesFilters(img, c.caller.id, req.Filters) {
			matched = append(matched, img)
		}
	}
	resp := describeImagesResponse{ImageSet: []wireImage{}, TotalCount: int64(len(matched))}
	if offset < uint64(len(matched)) {
		end := min(uint64(len(matched)), offset+limit)
		for _, img := range matched[offset:end] {
			resp.ImageSet = append(resp.ImageSet, img.render(c.caller.id, now))
		}
	}
	return resp, nil
}

func checkFilters(filters []wireFilter) *apiError {
	if len(filters) > maxFilters {
		return errf(CodeFilterLimitExceeded, "At most %d Filters are allowed, not %d.", maxFilters, len(filters))
	}
	for _, f := range filters {
		name := ""
		if f.Name != nil {
			name = *f.Name
		}
		switch {
		case name == filterImageID, name == filterImageType, name == filterImageName:
		case name == "":
			return errf(CodeInvalidFilter, "Every filter needs a Name.")
		case strings.HasPrefix(name, filterTagPrefix) && len(name) > len(filterTagPrefix):
		default:
			return errf(CodeInvalidFilter, "The filter `%s` is not supported; use %s, %s, %s or %s<key>.",
				name, filterImageID, filterImageType, filterImageName, filterTagPrefix)
		}
		if len(f.Values) == 0 {
			return errf(CodeInvalidParameterValue, "The filter `%s` needs at least one value.", name)
		}
		if len(f.Values) > maxFilterValues {
			return errf(CodeFilterLimitExceeded, "The filter `%s` has %d values; at most %d are allowed.",
				name, len(f.Values), maxFilterValues)
		}
		if name != filterImageID {
			continue
		}
		for _, id := range f.Values {
			if !imageIDPattern.MatchString(id) {
				return malformedImageID(id)
			}
		}
	}
	return nil
}

// matchesFilters applies filters with AND between filters and OR between a filter's values.
func matchesFilters(img *image, caller string, filters []wireFilter) bool {
	for _, f := range filters {
		var field string
		switch *f.Name {
		case filterImageID:
			field = img.id
		case filterImageType:
			field = img.typeFor(caller)
		case filterImageName:
			field = img.name
		default: // tag:<key>, checked by checkFilters
			value, tagged := img.tags[strings.TrimPrefix(*f.Name, filterTagPrefix)]
			if !tagged {
				return false
			}
			field = value
		}
		if !slices.Contains(f.Values, field) {
			return false
		}
	}
	return true
}

func (img *image) render(caller string, now time.Time) wireImage {
	percent := int64(100)
	switch {
	case !img.syncUntil.IsZero():
		total := img.syncUntil.Sub(img.syncStart)
		percent = min(99, max(0, int64(now.Sub(img.syncStart)*100/max(total, 1))))
	case img.state != StateNormal:
		percent = 0
	}
	source, creator := "CREATE_IMAGE", img.owner
	if img.typ == ImageTypePublic {
		source = "OFFICIAL"
	}
	return wireImage{
		ImageID:            img.id,
		OsName:             "TencentOS Server 3.1 (TK4)",
		ImageType:          img.typeFor(caller),
		CreatedTime:        img.created.Format(timeLayout),
		ImageName:          img.name,
		ImageDescription:   "",
		ImageSize:          50,
		Architecture:       "x86_64",
		ImageState:         img.state,
		Platform:           "TencentOS",
		ImageCreator:       creator,
		ImageSource:        source,
		SyncPercent:        percent,
		IsSupportCloudinit: true,
		SnapshotSet: []wireSnapshot{{
			SnapshotID: "snap-" + strings.TrimPrefix(img.id, "img-"),
			DiskUsage:  "SYSTEM_DISK",
			DiskSize:   50,
			Encrypt:    img.encrypted,
		}},
		Tags:        img.wireTags(),
		LicenseType: img.license,
	}
}

// wireTags are the image's tags as the API lists them, sorted by key; never nil.
func (img *image) wireTags() []wireTag {
	out := make([]wireTag, 0, len(img.tags))
	for _, k := range slices.Sorted(maps.Keys(img.tags)) {
		out = append(out, wireTag{Key: k, Value: img.tags[k]})
	}
	return out
}
