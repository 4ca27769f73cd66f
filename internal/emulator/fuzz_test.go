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
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// How FuzzHandle builds its request, from the fuzzed mode.
const (
	fuzzSigned = iota
	fuzzWrongKey
	fuzzUnsigned
	fuzzGET
	fuzzTamperedBody
	fuzzNoVersion
	fuzzModes
)

// FuzzHandle feeds arbitrary actions, regions and bodies through request decoding and dispatch.
// Whatever comes in, the answer is HTTP 200 with a JSON Response carrying a RequestId, and an
// error always has a code; the emulator never panics. Most modes sign the request correctly so
// that the fuzzer reaches the action handlers, not only the signature check.
func FuzzHandle(f *testing.F) {
	seeds := []struct {
		mode           uint8
		action, region string
		body           string
	}{
		{fuzzSigned, emulator.ActionDescribeImages, guangzhou, `{"ImageIds":["img-aaaa0001"]}`},
		{fuzzSigned, emulator.ActionDescribeImages, guangzhou,
			`{"Filters":[{"Name":"image-type","Values":["SHARED_IMAGE"]}],"Offset":1,"Limit":100}`},
		{fuzzSigned, emulator.ActionDescribeImages, guangzhou, `{"Filters":[{"Name":null,"Values":[null]}]}`},
		{fuzzSigned, emulator.ActionDescribeImages, guangzhou, `{"Offset":18446744073709551615,"Limit":100}`},
		{fuzzSigned, emulator.ActionDescribeImageSharePermission, guangzhou, `{"ImageId":"img-aaaa0002"}`},
		{fuzzSigned, emulator.ActionModifyImageSharePermission, guangzhou,
			`{"ImageId":"img-aaaa0001","AccountIds":["100000000004"],"Permission":"SHARE"}`},
		{fuzzSigned, emulator.ActionModifyImageSharePermission, guangzhou,
			`{"ImageId":"img-aaaa0002","AccountIds":["100000000002","x"],"Permission":"CANCEL"}`},
		{fuzzSigned, emulator.ActionDeleteImages, guangzhou, `{"ImageIds":["img-aaaa0001"],"DryRun":true}`},
		{fuzzSigned, emulator.ActionSyncImages, guangzhou,
			`{"ImageIds":["img-aaaa0001"],"DestinationRegions":["ap-shanghai"],"ImageSetRequired":true}`},
		{fuzzSigned, emulator.ActionDescribeImageQuota, guangzhou, `{}`},
		{fuzzSigned, emulator.ActionDescribeRegions, "", ``},
		{fuzzSigned, "RunInstances", guangzhou, `{}`},
		{fuzzSigned, emulator.ActionDescribeImages, "xx-nowhere", `{}`},
		{fuzzSigned, emulator.ActionDescribeImages, guangzhou, `{"ImageIds":"img-aaaa0001"}`},
		{fuzzSigned, emulator.ActionDescribeImages, guangzhou, `{"ImageIds":[`},
		{fuzzSigned, emulator.ActionDescribeImages, guangzhou, `[[[[[[[[[[]]]]]]]]]]`},
		{fuzzSigned, emulator.ActionDescribeImages, guangzhou, "\xff\xfe\x00"},
		{fuzzWrongKey, emulator.ActionDescribeImages, guangzhou, `{}`},
		{fuzzUnsigned, emulator.ActionDescribeImages, guangzhou, `{}`},
		{fuzzGET, emulator.ActionDescribeImages, guangzhou, ``},
		{fuzzTamperedBody, emulator.ActionModifyImageSharePermission, guangzhou, `{"ImageId":"img-aaaa0001"}`},
		{fuzzNoVersion, emulator.ActionDescribeImages, guangzhou, `{}`},
	}
	for _, s := range seeds {
		f.Add(s.mode, s.action, s.region, []byte(s.body))
	}

	seed, err := emulator.ParseSeed([]byte(fixtureYAML))
	if err != nil {
		f.Fatalf("parse fixture seed: %v", err)
	}
	const host = "127.0.0.1:9000"

	f.Fuzz(func(t *testing.T, mode uint8, action, region string, body []byte) {
		// A fresh emulator each time keeps inputs independent (SyncImages would otherwise pile up copies).
		emu, err := emulator.New(seed)
		if err != nil {
			t.Fatalf("new emulator: %v", err)
		}
		method := http.MethodPost
		if mode%fuzzModes == fuzzGET {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, "http://"+host+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-TC-Action", action)
		req.Header.Set("X-TC-Region", region)
		req.Header.Set("X-TC-Version", emulator.APIVersion)
		switch mode % fuzzModes {
		case fuzzSigned, fuzzGET, fuzzNoVersion:
			signTC3(req, ownerKeyID, ownerSecret, body, time.Now())
		case fuzzWrongKey:
			signTC3(req, ownerKeyID, peerSecret, body, time.Now())
		case fuzzTamperedBody:
			signTC3(req, ownerKeyID, ownerSecret, body, time.Now())
			req.Body = io.NopCloser(bytes.NewReader(append(bytes.Clone(body), ' ')))
		}
		if mode%fuzzModes == fuzzNoVersion {
			req.Header.Del("X-TC-Version")
		}

		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, req)
		checkAnswer(t, rec.Code, rec.Body.Bytes())
	})
}
