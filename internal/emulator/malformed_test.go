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
	"net/http"
	"testing"
	"time"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

func TestMalformedRequestsGetAnAPIAnswer(t *testing.T) {
	_, addr := start(t)
	signed := func(action, region, body string) *http.Request {
		req := rawRequest(addr, action, region, []byte(body))
		signTC3(req, ownerKeyID, ownerSecret, []byte(body), time.Now())
		return req
	}
	huge := bytes.Repeat([]byte("x"), emulator.MaxBodyBytes+1)
	cases := []struct {
		name string
		req  func() *http.Request
		code string
	}{
		{"hand-signed request succeeds", func() *http.Request {
			return signed(emulator.ActionDescribeImages, guangzhou, `{"Limit":1}`)
		}, ""},
		{"GET", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/?Action=DescribeImages", nil)
			return req
		}, emulator.CodeUnsupportedProtocol},
		{"no headers at all", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader([]byte("{}")))
			return req
		}, emulator.CodeMissingParameter},
		{"no version", func() *http.Request {
			req := signed(emulator.ActionDescribeImages, guangzhou, `{}`)
			req.Header.Del("X-TC-Version")
			return req
		}, emulator.CodeMissingParameter},
		{"wrong version", func() *http.Request {
			req := signed(emulator.ActionDescribeImages, guangzhou, `{}`)
			req.Header.Set("X-TC-Version", "2099-01-01")
			return req
		}, emulator.CodeNoSuchVersion},
		{"no timestamp", func() *http.Request {
			req := signed(emulator.ActionDescribeImages, guangzhou, `{}`)
			req.Header.Del("X-TC-Timestamp")
			return req
		}, emulator.CodeMissingParameter},
		{"timestamp not a number", func() *http.Request {
			req := signed(emulator.ActionDescribeImages, guangzhou, `{}`)
			req.Header.Set("X-TC-Timestamp", "yesterday")
			return req
		}, emulator.CodeInvalidParameter},
		{"no Authorization", func() *http.Request {
			req := signed(emulator.ActionDescribeImages, guangzhou, `{}`)
			req.Header.Del("Authorization")
			return req
		}, emulator.CodeInvalidAuthorization},
		{"garbage Authorization", func() *http.Request {
			req := signed(emulator.ActionDescribeImages, guangzhou, `{}`)
			req.Header.Set("Authorization", "TC3-HMAC-SHA256 ,,,==,")
			return req
		}, emulator.CodeInvalidAuthorization},
		{"other algorithm", func() *http.Request {
			req := signed(emulator.ActionDescribeImages, guangzhou, `{}`)
			req.Header.Set("Authorization", "HmacSHA1 Credential=AKIDowner0001")
			return req
		}, emulator.CodeInvalidAuthorization},
		{"body not JSON", func() *http.Request {
			return signed(emulator.ActionDescribeImages, guangzhou, `{"ImageIds":[`)
		}, emulator.CodeInvalidParameter},
		{"body a JSON array", func() *http.Request {
			return signed(emulator.ActionDescribeImages, guangzhou, `[1,2,3]`)
		}, emulator.CodeInvalidParameter},
		{"wrong type", func() *http.Request {
			return signed(emulator.ActionDescribeImages, guangzhou, `{"Limit":"ten"}`)
		}, emulator.CodeInvalidParameter},
		{"nested wrong type", func() *http.Request {
			return signed(emulator.ActionDescribeImages, guangzhou, `{"Filters":[{"Name":7,"Values":"x"}]}`)
		}, emulator.CodeInvalidParameter},
		{"filter without a name", func() *http.Request {
			return signed(emulator.ActionDescribeImages, guangzhou, `{"Filters":[{"Values":["x"]}]}`)
		}, emulator.CodeInvalidFilter},
		{"unknown action", func() *http.Request {
			return signed("DestroyEverything", guangzhou, `{}`)
		}, emulator.CodeInvalidAction},
		{"no region", func() *http.Request {
			return signed(emulator.ActionDescribeImages, "", `{}`)
		}, emulator.CodeMissingParameter},
		{"body too large", func() *http.Request {
			return signed(emulator.ActionDescribeImages, guangzhou, string(huge))
		}, emulator.CodeRequestSizeLimit},
		{"empty body is an empty parameter set", func() *http.Request {
			return signed(emulator.ActionDescribeImageQuota, guangzhou, ``)
		}, ""},
		{"JSON null body", func() *http.Request {
			return signed(emulator.ActionDescribeImageQuota, guangzhou, `null`)
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := do(t, tc.req()); got != tc.code {
				t.Errorf("got %q, want %q", got, tc.code)
			}
		})
	}
}
