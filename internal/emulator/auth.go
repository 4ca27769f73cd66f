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
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TC3-HMAC-SHA256 as the SDK's Client.sendWithSignatureV3 computes it: canonical request
// (method, URI "/", query, the signed headers — always content-type and host, host with its
// port — and the SHA-256 of the body), string to sign over the credential scope
// DATE/cvm/tc3_request, and a key derived from "TC3"+SecretKey through date, service and
// "tc3_request".
const (
	tc3Algorithm    = "TC3-HMAC-SHA256"
	tc3Terminator   = "tc3_request"
	serviceName     = "cvm"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// signatureWindow is how far X-TC-Timestamp may be from the emulator's clock.
	signatureWindow = 5 * time.Minute
)

// authorization is the parsed Authorization header.
type authorization struct {
	secretID      string
	scope         string
	signedHeaders []string
	signature     string
}

func parseAuthorization(header string) (*authorization, *apiError) {
	algorithm, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || algorithm != tc3Algorithm {
		return nil, errf(CodeInvalidAuthorization,
			"The Authorization header must use %s (Credential=..., SignedHeaders=..., Signature=...).", tc3Algorithm)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		key, value, found := strings.Cut(strings.TrimSpace(part), "=")
		if found {
			fields[key] = strings.TrimSpace(value)
		}
	}
	credential, signed, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	secretID, scope, ok := strings.Cut(credential, "/")
	if !ok || secretID == "" || signed == "" || signature == "" {
		return nil, errf(CodeInvalidAuthorization,
			"The Authorization header is missing Credential, SignedHeaders or Signature.")
	}
	return &authorization{
		secretID:      secretID,
		scope:         scope,
		signedHeaders: strings.Split(signed, ";"),
		signature:     strings.ToLower(signature),
	}, nil
}

// authenticate verifies the request's signature and returns the calling account.
func (e *Emulator) authenticate(r *http.Request, body []byte, timestamp string) (*account, *apiError) {
	auth, apiErr := parseAuthorization(r.Header.Get("Authorization"))
	if apiErr != nil {
		return nil, apiErr
	}
	acct, ok := e.keys[auth.secretID]
	if !ok {
		return nil, errf(CodeSecretIDNotFound, "The SecretId %s is not found, please ensure that your SecretId is correct.",
			auth.secretID)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return nil, errf(CodeInvalidParameter, "The X-TC-Timestamp header %q is not a Unix time in seconds.", timestamp)
	}
	signedAt := time.Unix(ts, 0)
	if skew := e.now().Sub(signedAt); skew > signatureWindow || skew < -signatureWindow {
		return nil, errf(CodeSignatureExpire,
			"Signature expired. Timestamp %d differs from the server time by more than %v.", ts, signatureWindow)
	}
	if !slices.Contains(auth.signedHeaders, "content-type") || !slices.Contains(auth.signedHeaders, "host") {
		return nil, errf(CodeSignatureFailure, "SignedHeaders must include content-type and host.")
	}
	date := signedAt.UTC().Format("2006-01-02")
	scope := date + "/" + serviceName + "/" + tc3Terminator
	if auth.scope != scope {
		return nil, errf(CodeSignatureFailure, "The credential scope %q does not match %q.", auth.scope, scope)
	}
	want := sign(acct.secretKey, date, canonicalRequest(r, body, auth.signedHeaders), timestamp, scope)
	if !hmac.Equal([]byte(want), []byte(auth.signature)) {
		return nil, errf(CodeSignatureFailure,
			"The provided credentials could not be validated. Please check your signature is correct.")
	}
	return acct, nil
}

func canonicalRequest(r *http.Request, body []byte, signedHeaders []string) string {
	var headers strings.Builder
	for _, name := range signedHeaders {
		value := r.Header.Get(name)
		if name == "host" {
			value = r.Host // Go moves Host out of Header; it carries the port the client dialled.
		}
		fmt.Fprintf(&headers, "%s:%s\n", name, strings.TrimSpace(value))
	}
	payloadHash := sha256Hex(body)
	if r.Header.Get("X-TC-Content-SHA256") == unsignedPayload {
		payloadHash = sha256Hex([]byte(unsignedPayload))
	}
	return strings.Join([]string{
		r.Method, "/", r.URL.RawQuery, headers.String(), strings.Join(signedHeaders, ";"), payloadHash,
	}, "\n")
}

func sign(secretKey, date, canonical, timestamp, scope string) string {
	stringToSign := strings.Join([]string{tc3Algorithm, timestamp, scope, sha256Hex([]byte(canonical))}, "\n")
	key := hmacSHA256([]byte("TC3"+secretKey), date)
	key = hmacSHA256(key, serviceName)
	key = hmacSHA256(key, tc3Terminator)
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}
