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
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

func TestSignatureIsVerified(t *testing.T) {
	_, addr := start(t)
	describeWith := func(c *common.Client) error {
		return send(c, emulator.ActionDescribeImages, nil, nil)
	}

	if err := describeWith(ownerClient(addr, guangzhou)); err != nil {
		t.Fatalf("a correctly signed call failed: %v", err)
	}
	wantCode(t, describeWith(newClient(addr, "AKIDnobody", ownerSecret, guangzhou)),
		emulator.CodeSecretIDNotFound, "AKIDnobody")
	wantCode(t, describeWith(newClient(addr, ownerKeyID, "not-the-owner-secret", guangzhou)),
		emulator.CodeSignatureFailure)
	wantCode(t, describeWith(newClient(addr, ownerKeyID, peerSecret, guangzhou)), emulator.CodeSignatureFailure)

	// A session token is accepted (and not checked): the emulator has no STS.
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = addr
	prof.HttpProfile.Scheme = "http"
	withToken := common.NewCommonClient(common.NewTokenCredential(ownerKeyID, ownerSecret, "token"), guangzhou, prof)
	if err := describeWith(withToken); err != nil {
		t.Errorf("a call with a session token failed: %v", err)
	}
}

// rewriter changes a request after the SDK signed it.
type rewriter func(*http.Request)

func (f rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	f(req)
	return http.DefaultTransport.RoundTrip(req)
}

func TestSignatureCoversHostPortAndBody(t *testing.T) {
	_, addr := start(t)
	host, _, _ := strings.Cut(addr, ":")

	otherPort := ownerClient(addr, guangzhou).WithHttpTransport(rewriter(func(req *http.Request) {
		req.Host = host + ":1" // the same address, but signed for another port
	}))
	wantCode(t, send(otherPort, emulator.ActionDescribeImages, nil, nil), emulator.CodeSignatureFailure)

	otherBody := ownerClient(addr, guangzhou).WithHttpTransport(rewriter(func(req *http.Request) {
		body := []byte(`{"Limit":1}`)
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}))
	wantCode(t, send(otherBody, emulator.ActionDescribeImages, map[string]any{"Limit": 2}, nil),
		emulator.CodeSignatureFailure)

	// The region is not signed, so changing it is not a signature failure.
	otherRegion := ownerClient(addr, guangzhou).WithHttpTransport(rewriter(func(req *http.Request) {
		req.Header.Set("X-TC-Region", shanghai)
	}))
	if got := describe(t, otherRegion, nil); len(got) != 1 {
		t.Errorf("with the region rewritten to %s: %v", shanghai, got)
	}
}

func TestSignatureTimestampWindow(t *testing.T) {
	_, addr := start(t)
	body := []byte(`{"Limit":1}`)
	cases := []struct {
		name          string
		keyID, secret string
		skew          time.Duration
		code          string
	}{
		{"now", ownerKeyID, ownerSecret, 0, ""},
		{"another account now", peerKeyID, peerSecret, 0, ""},
		{"four minutes old", ownerKeyID, ownerSecret, -4 * time.Minute, ""},
		{"six minutes old", ownerKeyID, ownerSecret, -6 * time.Minute, emulator.CodeSignatureExpire},
		{"six minutes ahead", peerKeyID, peerSecret, 6 * time.Minute, emulator.CodeSignatureExpire},
		{"old and with the wrong key", ownerKeyID, peerSecret, -6 * time.Minute, emulator.CodeSignatureExpire},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := rawRequest(addr, emulator.ActionDescribeImages, guangzhou, body)
			signTC3(req, tc.keyID, tc.secret, body, time.Now().Add(tc.skew))
			if got := do(t, req); got != tc.code {
				t.Errorf("got %q, want %q", got, tc.code)
			}
		})
	}
}

func TestSignatureExpiresWithTheEmulatorsClock(t *testing.T) {
	_, addr, clock := startWithClock(t, fixtureSeed(t))
	c := ownerClient(addr, guangzhou)
	if err := send(c, emulator.ActionDescribeImageQuota, nil, nil); err != nil {
		t.Fatalf("call with the clocks in step: %v", err)
	}
	clock.Advance(6 * time.Minute) // the SDK keeps signing with the real time
	wantCode(t, send(c, emulator.ActionDescribeImageQuota, nil, nil), emulator.CodeSignatureExpire)
}
