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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Seed defaults, as contract §5 states them.
const (
	DefaultShareLimit  = 50
	DefaultSyncSeconds = 5
)

// Image types. SHARED_IMAGE is never seeded: it is how an image shared with
// the caller looks from the caller's side.
const (
	ImageTypePrivate = "PRIVATE_IMAGE"
	ImageTypeShared  = "SHARED_IMAGE"
	ImageTypePublic  = "PUBLIC_IMAGE"
)

// Image states, as the Image data structure of CVM 2017-03-12 lists them.
const (
	StateCreating     = "CREATING"
	StateNormal       = "NORMAL"
	StateCreateFailed = "CREATEFAILED"
	StateUsing        = "USING"
	StateSyncing      = "SYNCING"
	StateImporting    = "IMPORTING"
	StateImportFailed = "IMPORTFAILED"
)

// License types, as ImportImage lists them.
const (
	LicenseTencentCloud = "TencentCloud"
	LicenseBYOL         = "BYOL"
)

var (
	imageIDPattern   = regexp.MustCompile(`^img-[a-z0-9]{8}$`)
	accountIDPattern = regexp.MustCompile(`^[1-9][0-9]{4,19}$`)
	regionPattern    = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)

	knownStates = []string{
		StateCreating, StateNormal, StateCreateFailed, StateUsing, StateSyncing, StateImporting, StateImportFailed,
	}
)

// Seed is the emulator's starting state: the YAML file of contract §5.
type Seed struct {
	// ShareLimit is the most accounts one image can be shared with; 0 means DefaultShareLimit.
	ShareLimit int `json:"shareLimit,omitempty"`
	// ImageQuota is the custom images one account may hold per region; SyncImages
	// into a full region fails with ImageQuotaLimitExceeded. 0 means DefaultImageQuota.
	ImageQuota int `json:"imageQuota,omitempty"`
	// SyncSeconds is how long a SyncImages copy stays SYNCING; nil means DefaultSyncSeconds,
	// 0 makes copies NORMAL at once.
	SyncSeconds *int `json:"syncSeconds,omitempty"`
	// Faults are injected into every API call; the zero value injects none.
	Faults Faults `json:"faults"`
	// Accounts are the root and collaborator accounts that exist in the cloud.
	Accounts []SeedAccount `json:"accounts,omitempty"`
	// Images are the images that exist at start.
	Images []SeedImage `json:"images,omitempty"`
}

// SeedAccount is one account. Only accounts with a key pair can call the API;
// the others exist only to receive shares.
type SeedAccount struct {
	// ID is the account (UIN) ID, 5 to 20 digits.
	ID string `json:"id"`
	// SecretID is the API key ID the account signs with.
	SecretID string `json:"secretId,omitempty"`
	// SecretKey is the API key secret the account signs with.
	SecretKey string `json:"secretKey,omitempty"`
	// Root is false for a collaborator (sub-)account; nil means true.
	Root *bool `json:"root,omitempty"`
	// DeniedActions are the API actions a CAM policy denies this account's key: calling one
	// answers AuthFailure.UnauthorizedOperation. Each must be an action the emulator implements.
	DeniedActions []string `json:"deniedActions,omitempty"`
}

// SeedImage is one image at start.
type SeedImage struct {
	// ID is the image ID, img- and eight lowercase letters or digits.
	ID string `json:"id"`
	// Region is the only region the image lives in.
	Region string `json:"region"`
	// Owner is the owning account; optional for PUBLIC_IMAGE only.
	Owner string `json:"owner,omitempty"`
	// Name is the image name; empty means the ID.
	Name string `json:"name,omitempty"`
	// Type is PRIVATE_IMAGE (default) or PUBLIC_IMAGE.
	Type string `json:"type,omitempty"`
	// State is the image state; empty means NORMAL.
	State string `json:"state,omitempty"`
	// LicenseType is TencentCloud (default) or BYOL.
	LicenseType string `json:"licenseType,omitempty"`
	// Encrypted marks an image backed by encrypted snapshots.
	Encrypted bool `json:"encrypted,omitempty"`
	// SharedWith lists the accounts the image is shared with at start.
	SharedWith []string `json:"sharedWith,omitempty"`
	// Tags are the image's tags (key to value), as DescribeImages reports them
	// in Tags and filters them with tag:<key>.
	Tags map[string]string `json:"tags,omitempty"`
	// CreatedTime is when the image was made, RFC 3339; empty means the time
	// the seed is loaded (or, for POST /_emulator/images, the time of the call).
	CreatedTime string `json:"createdTime,omitempty"`
}

// ParseSeed parses and validates a YAML (or JSON) seed and fills in its defaults.
// Unknown fields are errors, so that a misspelt key never silently changes the emulator's behaviour.
func ParseSeed(data []byte) (*Seed, error) {
	var s Seed
	if len(bytes.TrimSpace(data)) > 0 {
		doc, err := yaml.YAMLToJSONStrict(data) // strict: a key given twice is an error
		if err != nil {
			return nil, fmt.Errorf("parse seed: %w", err)
		}
		if err := checkFieldNames(doc); err != nil {
			return nil, fmt.Errorf("parse seed: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("parse seed: %w", err)
		}
	}
	return s.normalize()
}

// checkFieldNames rejects field names that differ from the seed format's only in case, which
// encoding/json would otherwise accept silently.
func checkFieldNames(doc []byte) error {
	var top map[string]any
	if json.Unmarshal(doc, &top) != nil {
		return nil // not an object: the typed decode reports it
	}
	if err := checkKeys("seed", top, reflect.TypeFor[Seed]()); err != nil {
		return err
	}
	if faults, ok := top["faults"].(map[string]any); ok {
		if err := checkKeys("faults", faults, reflect.TypeFor[faultsJSON]()); err != nil {
			return err
		}
	}
	for list, t := range map[string]reflect.Type{
		"accounts": reflect.TypeFor[SeedAccount](), "images": reflect.TypeFor[SeedImage](),
	} {
		entries, _ := top[list].([]any)
		for i, entry := range entries {
			if m, ok := entry.(map[string]any); ok {
				if err := checkKeys(fmt.Sprintf("%s[%d]", list, i), m, t); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func checkKeys(where string, m map[string]any, t reflect.Type) error {
	allowed := jsonNames(t)
	for _, key := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(allowed, key) {
			return fmt.Errorf("%s: unknown field %q (field names are case-sensitive: %s)",
				where, key, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// LoadSeed reads and parses the seed file at path.
func LoadSeed(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read seed: %w", err)
	}
	s, err := ParseSeed(data)
	if err != nil {
		return nil, fmt.Errorf("seed %s: %w", path, err)
	}
	return s, nil
}

// normalize validates s and returns a deep copy with every default filled in.
func (s *Seed) normalize() (*Seed, error) {
	out := &Seed{ShareLimit: s.ShareLimit, ImageQuota: s.ImageQuota, Faults: s.Faults}
	switch {
	case out.ImageQuota < 0:
		return nil, fmt.Errorf("imageQuota %d: must be positive", s.ImageQuota)
	case out.ImageQuota == 0:
		out.ImageQuota = DefaultImageQuota
	}
	if out.ShareLimit < 0 {
		return nil, fmt.Errorf("shareLimit %d: must be positive", s.ShareLimit)
	}
	if out.ShareLimit == 0 {
		out.ShareLimit = DefaultShareLimit
	}
	syncSeconds := DefaultSyncSeconds
	if s.SyncSeconds != nil {
		syncSeconds = *s.SyncSeconds
	}
	if syncSeconds < 0 {
		return nil, fmt.Errorf("syncSeconds %d: must not be negative", syncSeconds)
	}
	out.SyncSeconds = &syncSeconds
	if err := s.Faults.validate(); err != nil {
		return nil, err
	}
	accounts, err := normalizeAccounts(s.Accounts)
	if err != nil {
		return nil, err
	}
	out.Accounts = accounts
	images, err := normalizeImages(s.Images, accounts, out.ShareLimit)
	if err != nil {
		return nil, err
	}
	out.Images = images
	return out, nil
}

func normalizeAccounts(in []SeedAccount) ([]SeedAccount, error) {
	out := make([]SeedAccount, 0, len(in))
	ids := map[string]bool{}
	keys := map[string]string{}
	for i, a := range in {
		where := fmt.Sprintf("accounts[%d] (%q)", i, a.ID)
		switch {
		case !accountIDPattern.MatchString(a.ID):
			return nil, fmt.Errorf("%s: id must be 5 to 20 digits, not starting with 0", where)
		case ids[a.ID]:
			return nil, fmt.Errorf("%s: duplicate account id", where)
		case (a.SecretID == "") != (a.SecretKey == ""):
			return nil, fmt.Errorf("%s: secretId and secretKey must be given together", where)
		}
		if a.SecretID != "" {
			if other, dup := keys[a.SecretID]; dup {
				return nil, fmt.Errorf("%s: secretId %q is already used by account %q", where, a.SecretID, other)
			}
			keys[a.SecretID] = a.ID
		}
		for _, action := range a.DeniedActions {
			if _, ok := actions[action]; !ok {
				return nil, fmt.Errorf("%s: deniedActions %q is not an action the emulator implements (%s)",
					where, action, strings.Join(slices.Sorted(maps.Keys(actions)), ", "))
			}
		}
		ids[a.ID] = true
		root := a.Root == nil || *a.Root
		a.Root = &root
		a.DeniedActions = slices.Clone(a.DeniedActions)
		out = append(out, a)
	}
	return out, nil
}

func normalizeImages(in []SeedImage, accounts []SeedAccount, limit int) ([]SeedImage, error) {
	known := map[string]bool{}
	for _, a := range accounts {
		known[a.ID] = true
	}
	out := make([]SeedImage, 0, len(in))
	ids := map[string]bool{}
	for i, img := range in {
		where := fmt.Sprintf("images[%d] (%q)", i, img.ID)
		if !imageIDPattern.MatchString(img.ID) {
			return nil, fmt.Errorf("%s: id must match ^img-[a-z0-9]{8}$", where)
		}
		if ids[img.ID] {
			return nil, fmt.Errorf("%s: duplicate image id", where)
		}
		ids[img.ID] = true
		norm, err := normalizeImage(img, known, limit)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		out = append(out, norm)
	}
	return out, nil
}

func normalizeImage(img SeedImage, known map[string]bool, limit int) (SeedImage, error) {
	if !regionPattern.MatchString(img.Region) {
		return img, fmt.Errorf("region %q is not a region name such as ap-guangzhou", img.Region)
	}
	if img.Type == "" {
		img.Type = ImageTypePrivate
	}
	if img.Type != ImageTypePrivate && img.Type != ImageTypePublic {
		return img, fmt.Errorf("type %q: must be %s or %s", img.Type, ImageTypePrivate, ImageTypePublic)
	}
	switch {
	case img.Owner == "" && img.Type != ImageTypePublic:
		return img, errors.New("owner is required for a private image")
	case img.Owner != "" && !known[img.Owner]:
		return img, fmt.Errorf("owner %q is not a seeded account", img.Owner)
	}
	if img.Name == "" {
		img.Name = img.ID
	}
	if img.State == "" {
		img.State = StateNormal
	}
	if !isKnownState(img.State) {
		return img, fmt.Errorf("state %q: must be one of %s", img.State, strings.Join(knownStates, ", "))
	}
	if img.LicenseType == "" {
		img.LicenseType = LicenseTencentCloud
	}
	if img.LicenseType != LicenseTencentCloud && img.LicenseType != LicenseBYOL {
		return img, fmt.Errorf("licenseType %q: must be %s or %s", img.LicenseType, LicenseTencentCloud, LicenseBYOL)
	}
	if err := checkTagsAndTime(img); err != nil {
		return img, err
	}
	img.Tags = maps.Clone(img.Tags)
	if img.Type == ImageTypePublic && len(img.SharedWith) > 0 {
		return img, errors.New("a public image cannot have sharedWith")
	}
	shared, err := normalizeShares(img.SharedWith, img.Owner, known)
	if err != nil {
		return img, err
	}
	if len(shared) > limit {
		return img, fmt.Errorf("sharedWith has %d accounts, over the share limit %d", len(shared), limit)
	}
	img.SharedWith = shared
	return img, nil
}

func normalizeShares(in []string, owner string, known map[string]bool) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, id := range in {
		switch {
		case !known[id]:
			return nil, fmt.Errorf("sharedWith account %q is not a seeded account", id)
		case id == owner:
			return nil, fmt.Errorf("sharedWith account %q is the image's owner", id)
		case seen[id]:
			return nil, fmt.Errorf("sharedWith account %q is listed twice", id)
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// Tencent's tag limits: keys up to 127 characters, values up to 255, at most 50 tags per resource.
const (
	maxTagKeyLen   = 127
	maxTagValueLen = 255
	maxTags        = 50
)

func checkTagsAndTime(img SeedImage) error {
	if len(img.Tags) > maxTags {
		return fmt.Errorf("tags: %d tags, at most %d are allowed", len(img.Tags), maxTags)
	}
	for _, k := range slices.Sorted(maps.Keys(img.Tags)) {
		switch {
		case k == "" || len(k) > maxTagKeyLen:
			return fmt.Errorf("tags: key %q must be 1 to %d characters", k, maxTagKeyLen)
		case len(img.Tags[k]) > maxTagValueLen:
			return fmt.Errorf("tags: value of %q is longer than %d characters", k, maxTagValueLen)
		}
	}
	if img.CreatedTime != "" {
		if _, err := time.Parse(time.RFC3339, img.CreatedTime); err != nil {
			return fmt.Errorf("createdTime %q is not an RFC 3339 time such as 2026-11-27T10:00:00Z", img.CreatedTime)
		}
	}
	return nil
}

func isKnownState(state string) bool {
	return slices.Contains(knownStates, state)
}
