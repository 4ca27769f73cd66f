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

package emulator_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

// The fixture's accounts, keys, regions and images.
const (
	ownerID     = "100000000001"
	peerID      = "100000000002"
	collabID    = "100000000003"
	receiverA   = "100000000004"
	receiverB   = "100000000005"
	receiverC   = "100000000006"
	unknownAcct = "199999999999"

	ownerKeyID  = "AKIDowner0001"
	ownerSecret = "owner-secret-1"
	peerKeyID   = "AKIDpeer0002"
	peerSecret  = "peer-secret-2"

	guangzhou = "ap-guangzhou"
	shanghai  = "ap-shanghai"

	imgPlain     = "img-aaaa0001"
	imgShared    = "img-aaaa0002"
	imgBYOL      = "img-byol0001"
	imgEncrypted = "img-encr0001"
	imgBusy      = "img-busy0001"
	imgSharedIn  = "img-peer0001" // the peer's image, shared with the owner
	imgPeerOnly  = "img-peer0002" // the peer's private image
	imgPublic    = "img-pub00001"
	imgShanghai  = "img-shan0001"
	imgMissing   = "img-zzzz9999"
)

// fixtureYAML is the seed most tests start from; shareLimit 3 keeps the limit within reach.
const fixtureYAML = `
shareLimit: 3
syncSeconds: 1
accounts:
  - {id: "100000000001", secretId: AKIDowner0001, secretKey: owner-secret-1}
  - {id: "100000000002", secretId: AKIDpeer0002, secretKey: peer-secret-2}
  - {id: "100000000003", root: false}
  - {id: "100000000004"}
  - {id: "100000000005"}
  - {id: "100000000006"}
images:
  - {id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001", name: web-base}
  - {id: img-aaaa0002, region: ap-guangzhou, owner: "100000000001", name: web-shared, sharedWith: ["100000000002"]}
  - {id: img-byol0001, region: ap-guangzhou, owner: "100000000001", licenseType: BYOL}
  - {id: img-encr0001, region: ap-guangzhou, owner: "100000000001", encrypted: true}
  - {id: img-busy0001, region: ap-guangzhou, owner: "100000000001", state: CREATING}
  - {id: img-peer0001, region: ap-guangzhou, owner: "100000000002", sharedWith: ["100000000001"]}
  - {id: img-peer0002, region: ap-guangzhou, owner: "100000000002"}
  - {id: img-pub00001, region: ap-guangzhou, type: PUBLIC_IMAGE, name: TencentOS}
  - {id: img-shan0001, region: ap-shanghai, owner: "100000000001"}
`

func fixtureSeed(t *testing.T) *emulator.Seed {
	t.Helper()
	seed, err := emulator.ParseSeed([]byte(fixtureYAML))
	if err != nil {
		t.Fatalf("parse fixture seed: %v", err)
	}
	return seed
}

// start serves the fixture seed and returns the emulator with SDK clients for the owner and the
// peer in Guangzhou.
func start(t *testing.T) (*emulator.Emulator, string) {
	t.Helper()
	return emulatortest.Start(t, fixtureSeed(t))
}

// newClient is the official SDK's common client pointed at the emulator, retries off.
func newClient(addr, secretID, secretKey, region string) *common.Client {
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = addr
	prof.HttpProfile.Scheme = "http"
	return common.NewCommonClient(common.NewCredential(secretID, secretKey), region, prof)
}

func ownerClient(addr, region string) *common.Client {
	return newClient(addr, ownerKeyID, ownerSecret, region)
}

// send calls action with params through the SDK and decodes the {"Response":...} body into out.
func send(c *common.Client, action string, params any, out any) error {
	req := tchttp.NewCommonRequest("cvm", emulator.APIVersion, action)
	body := []byte("{}")
	if params != nil {
		var err error
		if body, err = json.Marshal(params); err != nil {
			return fmt.Errorf("encode %s params: %w", action, err)
		}
	}
	if err := req.SetActionParameters(body); err != nil {
		return fmt.Errorf("set %s params: %w", action, err)
	}
	resp := tchttp.NewCommonResponse()
	if err := c.Send(req, resp); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.GetBody(), out); err != nil {
		return fmt.Errorf("decode %s response: %w", action, err)
	}
	return nil
}

// mustSend fails the test unless the call succeeds.
func mustSend(t *testing.T, c *common.Client, action string, params any, out any) {
	t.Helper()
	if err := send(c, action, params, out); err != nil {
		t.Fatalf("%s %v: %v", action, params, err)
	}
}

// sdkError returns the SDK's error, failing the test if err is not one with a RequestId.
func sdkError(t *testing.T, err error) *tcerr.TencentCloudSDKError {
	t.Helper()
	var sdkErr *tcerr.TencentCloudSDKError
	if !errors.As(err, &sdkErr) {
		t.Fatalf("got error %v (%T), want a *TencentCloudSDKError", err, err)
	}
	if sdkErr.RequestId == "" {
		t.Errorf("error %s has no RequestId", sdkErr.Code)
	}
	return sdkErr
}

// wantCode fails the test unless err is an API error with code, and its message contains every
// string in mentions.
func wantCode(t *testing.T, err error, code string, mentions ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded, want error %s", code)
	}
	sdkErr := sdkError(t, err)
	if sdkErr.Code != code {
		t.Fatalf("got error %s (%s), want %s", sdkErr.Code, sdkErr.Message, code)
	}
	for _, m := range mentions {
		if !strings.Contains(sdkErr.Message, m) {
			t.Errorf("error message %q does not mention %q", sdkErr.Message, m)
		}
	}
}

type imageSetResponse struct {
	Response struct {
		ImageSet []struct {
			ImageId     string
			ImageName   string
			ImageType   string
			ImageState  string
			LicenseType string
			SyncPercent int
			SnapshotSet []struct {
				SnapshotId string
				Encrypt    bool
			}
		}
		TotalCount int
		RequestId  string
	}
}

// describe returns the images the client sees, by ID, paging through them all.
func describe(t *testing.T, c *common.Client, params map[string]any) map[string]string {
	t.Helper()
	var out imageSetResponse
	mustSend(t, c, emulator.ActionDescribeImages, params, &out)
	types := map[string]string{}
	for _, img := range out.Response.ImageSet {
		types[img.ImageId] = img.ImageType
	}
	if out.Response.TotalCount != len(out.Response.ImageSet) {
		t.Fatalf("TotalCount %d, but %d images returned", out.Response.TotalCount, len(out.Response.ImageSet))
	}
	return types
}

type shareListResponse struct {
	Response struct {
		SharePermissionSet []struct {
			CreatedTime string
			AccountId   string
		}
	}
}

func shareList(t *testing.T, c *common.Client, imageID string) []string {
	t.Helper()
	var out shareListResponse
	mustSend(t, c, emulator.ActionDescribeImageSharePermission, map[string]any{"ImageId": imageID}, &out)
	accounts := make([]string, 0, len(out.Response.SharePermissionSet))
	for _, p := range out.Response.SharePermissionSet {
		if _, err := time.Parse(time.RFC3339, p.CreatedTime); err != nil {
			t.Errorf("share of %s with %s: CreatedTime %q: %v", imageID, p.AccountId, p.CreatedTime, err)
		}
		accounts = append(accounts, p.AccountId)
	}
	return accounts
}

func modify(c *common.Client, imageID, permission string, accounts ...string) error {
	return send(c, emulator.ActionModifyImageSharePermission,
		map[string]any{"ImageId": imageID, "AccountIds": accounts, "Permission": permission}, nil)
}

// sharedWith reads an image's share list from the emulator's state, nil if the image is gone.
func sharedWith(t *testing.T, emu *emulator.Emulator, imageID string) []string {
	t.Helper()
	for _, img := range emu.State().Images {
		if img.ID == imageID {
			return img.SharedWith
		}
	}
	return nil
}

func stateOf(emu *emulator.Emulator, imageID string) (emulator.StateImage, bool) {
	for _, img := range emu.State().Images {
		if img.ID == imageID {
			return img, true
		}
	}
	return emulator.StateImage{}, false
}

// signTC3 signs req by hand, following Tencent's published TC3-HMAC-SHA256 algorithm, so that a
// test can choose the timestamp (the SDK always signs with the current time). It is written
// independently of the emulator's verifier.
func signTC3(req *http.Request, secretID, secretKey string, body []byte, at time.Time) {
	timestamp := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("X-TC-Timestamp", timestamp)
	date := at.UTC().Format("2006-01-02")
	payload := sha256.Sum256(body)
	canonical := "POST\n/\n\ncontent-type:" + req.Header.Get("Content-Type") + "\nhost:" + req.Host + "\n\n" +
		"content-type;host\n" + hex.EncodeToString(payload[:])
	hashed := sha256.Sum256([]byte(canonical))
	scope := date + "/cvm/tc3_request"
	toSign := "TC3-HMAC-SHA256\n" + timestamp + "\n" + scope + "\n" + hex.EncodeToString(hashed[:])
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	key := mac(mac(mac([]byte("TC3"+secretKey), date), "cvm"), "tc3_request")
	req.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+secretID+"/"+scope+
		", SignedHeaders=content-type;host, Signature="+hex.EncodeToString(mac(key, toSign)))
}

// rawRequest builds an API request by hand with the usual headers, unsigned.
func rawRequest(addr, action, region string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
	req.RequestURI = "" // an outgoing request must not carry it
	req.Host = addr
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Version", emulator.APIVersion)
	if action != "" {
		req.Header.Set("X-TC-Action", action)
	}
	if region != "" {
		req.Header.Set("X-TC-Region", region)
	}
	return req
}

// apiAnswer is any API answer, success or error.
type apiAnswer struct {
	Response struct {
		Error *struct {
			Code    string
			Message string
		}
		RequestId string
	}
}

// checkAnswer asserts the shape every API answer must have: HTTP 200, a JSON Response with a
// RequestId, and an error code when there is an error. It returns the error code, "" on success.
func checkAnswer(t testing.TB, status int, body []byte) string {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("HTTP status %d, want 200; body %s", status, body)
	}
	var ans apiAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatalf("answer is not JSON: %v; body %q", err, body)
	}
	if ans.Response.RequestId == "" {
		t.Fatalf("answer has no RequestId: %s", body)
	}
	if ans.Response.Error == nil {
		return ""
	}
	if ans.Response.Error.Code == "" || ans.Response.Error.Message == "" {
		t.Fatalf("error without code or message: %s", body)
	}
	return ans.Response.Error.Code
}

// do sends req over the network and checks the answer's shape.
func do(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("send request: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return checkAnswer(t, resp.StatusCode, body)
}

// fakeClock is a clock tests move by hand; it starts at the real time so that SDK signatures,
// made with the real time, stay inside the five-minute window.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// startWithClock serves seed with a fake clock.
func startWithClock(t *testing.T, seed *emulator.Seed) (*emulator.Emulator, string, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	emu, err := emulator.NewWithClock(seed, clock.Now)
	if err != nil {
		t.Fatalf("new emulator: %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, strings.TrimPrefix(srv.URL, "http://"), clock
}
