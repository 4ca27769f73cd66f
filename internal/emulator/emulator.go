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

// Package emulator is a local endpoint of the Tencent Cloud CVM API 2017-03-12 for the image
// sharing actions, spoken as the official Go SDK's common client sends it: POST / with a JSON
// body, X-TC-* headers and a TC3-HMAC-SHA256 Authorization header verified against the seeded
// keys. It keeps accounts, regional images and their share lists in memory, enforces the rules
// Tencent documents for image sharing, injects faults on demand, and exposes its state to tests
// on /_emulator/state and /_emulator/stats. docs/emulator.md describes the wire format.
package emulator

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

const (
	// MaxBodyBytes caps a request body; larger bodies get RequestSizeLimitExceeded.
	MaxBodyBytes = 1 << 20
	// StatePath and StatsPath are the test endpoints outside the Tencent API.
	StatePath = "/_emulator/state"
	StatsPath = "/_emulator/stats"
	// ImagesPath adds an image at runtime (POST, one seed image as JSON): a new build arriving.
	ImagesPath = "/_emulator/images"
	// DefaultImageQuota is the custom images an account may hold per region
	// (what DescribeImageQuota reports) when the seed does not say.
	DefaultImageQuota = 500
	// InvalidActionKey counts, in Stats.Calls, calls whose action is missing or unknown, so that
	// arbitrary action names cannot grow the map without bound.
	InvalidActionKey = "(invalid)"
)

// Emulator is the CVM API emulator. It implements http.Handler and is safe for concurrent use.
type Emulator struct {
	// now is the clock; tests inside the package replace it.
	now          func() time.Time
	shareLimit   int
	imageQuota   int
	copies       int // images made by SyncImages so far, for their IDs
	syncDuration time.Duration
	accounts     map[string]*account // by account ID; read-only after New
	keys         map[string]*account // by SecretId; read-only after New
	regions      map[string]string   // region -> display name; read-only after New
	syncRegions  map[string]bool     // SyncImages destinations; read-only after New

	mu     sync.Mutex
	images map[string]*image

	faultsMu sync.Mutex
	faults   Faults
	buckets  map[bucketKey]*bucket

	statsMu   sync.Mutex
	calls     map[string]int
	errs      map[string]int
	byAccount map[string]map[string]int
}

type account struct {
	id        string
	secretKey string
	root      bool
	denied    map[string]bool // actions a CAM policy denies this account's key
}

type image struct {
	id, region, owner, name, typ, state, license string
	encrypted                                    bool
	created                                      time.Time
	tags                                         map[string]string
	shares                                       map[string]time.Time // account -> shared at
	// syncStart and syncUntil bound a SyncImages copy in progress; zero otherwise.
	syncStart, syncUntil time.Time
	synced               bool // made by SyncImages
	// visibleAt is when a new SyncImages copy appears to API callers (faults.copyVisibilityDelay);
	// zero for an image visible from the start.
	visibleAt time.Time
}

// New makes an emulator serving seed. A nil seed is an empty cloud with the defaults.
func New(seed *Seed) (*Emulator, error) {
	if seed == nil {
		seed = &Seed{}
	}
	s, err := seed.normalize()
	if err != nil {
		return nil, fmt.Errorf("invalid seed: %w", err)
	}
	e := &Emulator{
		now:          time.Now,
		shareLimit:   s.ShareLimit,
		imageQuota:   s.ImageQuota,
		syncDuration: time.Duration(*s.SyncSeconds) * time.Second,
		accounts:     map[string]*account{},
		keys:         map[string]*account{},
		regions:      maps.Clone(publicRegions),
		syncRegions:  map[string]bool{},
		images:       map[string]*image{},
		faults:       s.Faults,
		buckets:      map[bucketKey]*bucket{},
	}
	e.resetStats()
	for _, a := range s.Accounts {
		acct := &account{id: a.ID, secretKey: a.SecretKey, root: *a.Root, denied: map[string]bool{}}
		for _, action := range a.DeniedActions {
			acct.denied[action] = true
		}
		e.accounts[a.ID] = acct
		if a.SecretID != "" {
			e.keys[a.SecretID] = acct
		}
	}
	for _, region := range syncImagesRegions {
		e.syncRegions[region] = true
	}
	start := e.now().UTC()
	for _, si := range s.Images {
		e.images[si.ID] = newImage(si, start)
		if _, ok := e.regions[si.Region]; !ok {
			// A region only the seed knows is a test region; copies may go there too.
			e.regions[si.Region] = si.Region
			e.syncRegions[si.Region] = true
		}
	}
	return e, nil
}

// ServeHTTP answers the Tencent API on every path but the two test endpoints.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case StatePath:
		e.serveJSON(w, r, func() any { return e.State() })
	case StatsPath:
		e.serveJSON(w, r, func() any { return e.Stats() })
	case ImagesPath:
		e.serveAddImage(w, r)
	default:
		e.serveAPI(w, r)
	}
}

func (e *Emulator) serveJSON(w http.ResponseWriter, r *http.Request, value func() any) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(value()) // the client went away; nothing to do
}

// call is one API request in flight.
type call struct {
	requestID string
	action    string
	region    string
	caller    *account
	params    []byte
	started   time.Time
}

func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	e.delay(r)
	c, result, apiErr := e.handle(w, r, requestID)
	e.record(c, apiErr)

	response := map[string]any{"RequestId": requestID}
	if apiErr != nil {
		response["Error"] = apiErr
	} else if err := mergeInto(response, result); err != nil {
		response["Error"] = errf(CodeInternalError, "The emulator could not encode its answer: %v.", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-TC-RequestId", requestID)
	w.WriteHeader(http.StatusOK) // Tencent answers every API error with HTTP 200
	_ = json.NewEncoder(w).Encode(map[string]any{"Response": response})
}

// mergeInto adds result's JSON fields to response.
func mergeInto(response map[string]any, result any) error {
	raw, err := json.Marshal(result)
	if err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return err
	}
	for k, v := range fields {
		response[k] = v
	}
	return nil
}

// handle runs the request pipeline: transport checks, headers, signature, faults, action.
func (e *Emulator) handle(w http.ResponseWriter, r *http.Request, requestID string) (*call, any, *apiError) {
	c := &call{
		requestID: requestID, action: r.Header.Get("X-TC-Action"), region: r.Header.Get("X-TC-Region"),
		started: e.now(),
	}
	if r.Method != http.MethodPost {
		return c, nil, errf(CodeUnsupportedProtocol,
			"The emulator accepts only POST requests with a JSON body, not %s.", r.Method)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			return c, nil, errf(CodeRequestSizeLimit, "The request body exceeds %d bytes.", MaxBodyBytes)
		}
		return c, nil, errf(CodeInvalidParameter, "The request body could not be read: %v.", err)
	}
	timestamp := r.Header.Get("X-TC-Timestamp")
	switch version := r.Header.Get("X-TC-Version"); {
	case c.action == "":
		return c, nil, errf(CodeMissingParameter, "The request is missing the required parameter `Action` (X-TC-Action).")
	case version == "":
		return c, nil, errf(CodeMissingParameter,
			"The request is missing the required parameter `Version` (X-TC-Version).")
	case version != APIVersion:
		return c, nil, errf(CodeNoSuchVersion, "The API version `%s` does not exist; CVM answers %s.", version, APIVersion)
	case timestamp == "":
		return c, nil, errf(CodeMissingParameter,
			"The request is missing the required parameter `Timestamp` (X-TC-Timestamp).")
	}
	acct, apiErr := e.authenticate(r, body, timestamp)
	if apiErr != nil {
		return c, nil, apiErr
	}
	c.caller = acct
	c.params = body
	if apiErr := e.injectFaults(c); apiErr != nil {
		return c, nil, apiErr
	}
	spec, ok := actions[c.action]
	if !ok {
		return c, nil, errf(CodeInvalidAction, "The action `%s` does not exist in CVM %s.", c.action, APIVersion)
	}
	if apiErr := e.checkRegion(c, spec); apiErr != nil {
		return c, nil, apiErr
	}
	if apiErr := authorize(c); apiErr != nil {
		return c, nil, apiErr
	}
	result, apiErr := spec.run(e, c)
	return c, result, apiErr
}

func (e *Emulator) checkRegion(c *call, spec actionSpec) *apiError {
	if c.region == "" {
		if spec.regionOptional {
			return nil
		}
		return errf(CodeMissingParameter, "The request is missing the required parameter `Region` (X-TC-Region).")
	}
	if _, ok := e.regions[c.region]; !ok {
		return errf(CodeRegionNotFound, "The region `%s` does not exist.", c.region)
	}
	return nil
}

// Stats counts API calls. Calls and CallsByAccount count every call, failed or not;
// CallsByAccount counts only calls whose signature was verified.
type Stats struct {
	Calls          map[string]int            `json:"calls"`
	Errors         map[string]int            `json:"errors"`
	CallsByAccount map[string]map[string]int `json:"callsByAccount"`
}

func (e *Emulator) record(c *call, apiErr *apiError) {
	key := actionKey(c.action)
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	e.calls[key]++
	if apiErr != nil {
		e.errs[apiErr.Code]++
	}
	if c.caller != nil {
		byAction := e.byAccount[c.caller.id]
		if byAction == nil {
			byAction = map[string]int{}
			e.byAccount[c.caller.id] = byAction
		}
		byAction[key]++
	}
}

// Stats returns a copy of the call counters; /_emulator/stats serves the same data.
func (e *Emulator) Stats() Stats {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	s := Stats{Calls: maps.Clone(e.calls), Errors: maps.Clone(e.errs), CallsByAccount: map[string]map[string]int{}}
	for acct, byAction := range e.byAccount {
		s.CallsByAccount[acct] = maps.Clone(byAction)
	}
	return s
}

// ResetStats zeroes the call counters.
func (e *Emulator) ResetStats() {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	e.resetStats()
}

func (e *Emulator) resetStats() {
	e.calls = map[string]int{}
	e.errs = map[string]int{}
	e.byAccount = map[string]map[string]int{}
}

// State is every image in the emulator, sorted by ID; /_emulator/state serves the same data.
type State struct {
	Images []StateImage `json:"images"`
}

// StateImage is one image as the emulator holds it, independent of who looks at it.
type StateImage struct {
	ID          string   `json:"id"`
	Region      string   `json:"region"`
	Owner       string   `json:"owner"`
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	State       string   `json:"state"`
	LicenseType string   `json:"licenseType"`
	Encrypted   bool     `json:"encrypted"`
	SharedWith  []string `json:"sharedWith"`
}

// State returns a snapshot of every image.
func (e *Emulator) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	out := State{Images: make([]StateImage, 0, len(e.images))}
	for _, id := range slices.Sorted(maps.Keys(e.images)) {
		img := e.images[id]
		out.Images = append(out.Images, StateImage{
			ID: img.id, Region: img.region, Owner: img.owner, Name: img.name, Type: img.typ, State: img.state,
			LicenseType: img.license, Encrypted: img.encrypted, SharedWith: img.sharedWith(),
		})
	}
	return out
}

// advance finishes the SyncImages copies whose time is up. Callers hold e.mu.
func (e *Emulator) advance() {
	now := e.now()
	for _, img := range e.images {
		if !img.syncUntil.IsZero() && !now.Before(img.syncUntil) {
			img.state = StateNormal
			img.syncStart, img.syncUntil = time.Time{}, time.Time{}
		}
	}
}

// sharedWith is the sorted share list, never nil so that JSON shows [] rather than null.
func (img *image) sharedWith() []string {
	out := slices.AppendSeq(make([]string, 0, len(img.shares)), maps.Keys(img.shares))
	slices.Sort(out)
	return out
}

// SetImageState is a test hook: it sets an image's state out of band (for example SYNCING, then
// NORMAL). It stops any SyncImages countdown on the image, so the state stays until changed again.
func (e *Emulator) SetImageState(id, state string) error {
	if !isKnownState(state) {
		return fmt.Errorf("set image %s state: unknown state %q", id, state)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	img, ok := e.images[id]
	if !ok {
		return fmt.Errorf("set image %s state: no such image", id)
	}
	img.state = state
	img.syncStart, img.syncUntil = time.Time{}, time.Time{}
	return nil
}

// RemoveImage is a test hook: the image disappears out of band, shares and all.
func (e *Emulator) RemoveImage(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.images[id]; !ok {
		return fmt.Errorf("remove image %s: no such image", id)
	}
	delete(e.images, id)
	return nil
}

// SetShares is a test hook: it replaces an image's share list out of band, as the console would.
// Accounts must be seeded and must not be the owner; the share limit is deliberately not applied,
// so that tests can build an image that is already over it.
func (e *Emulator) SetShares(id string, accounts []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	img, ok := e.images[id]
	if !ok {
		return fmt.Errorf("set shares of %s: no such image", id)
	}
	if img.typ == ImageTypePublic && len(accounts) > 0 {
		return fmt.Errorf("set shares of %s: a public image cannot be shared", id)
	}
	now := e.now().UTC()
	shares := make(map[string]time.Time, len(accounts))
	for _, acct := range accounts {
		if _, ok := e.accounts[acct]; !ok {
			return fmt.Errorf("set shares of %s: account %q is not seeded", id, acct)
		}
		if acct == img.owner {
			return fmt.Errorf("set shares of %s: account %q is the owner", id, acct)
		}
		shares[acct] = now
		if at, kept := img.shares[acct]; kept {
			shares[acct] = at
		}
	}
	img.shares = shares
	return nil
}

// newRequestID makes a UUID v4, the shape of Tencent's RequestId.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
