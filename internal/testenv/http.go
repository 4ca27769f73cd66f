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

package testenv

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
)

// Get sends a GET for url with client (nil: http.DefaultClient) and header (may be nil), and
// returns the body and the status code whatever the status. ctx bounds the whole exchange,
// body included. An error is one of the request, the connection or reading the body; with the
// last, the body read so far and the code are returned too.
func Get(ctx context.Context, client *http.Client, url string, header http.Header) (body []byte, code int,
	err error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("build the request for %s: %w", url, err)
	}
	maps.Copy(req.Header, header)
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err // *url.Error says "Get "<url>": ..."
	}
	defer func() { _ = resp.Body.Close() }()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return body, resp.StatusCode, fmt.Errorf("read %s: %w", url, err)
	}
	return body, resp.StatusCode, nil
}

// GetBody is Get with http.DefaultClient for a caller that wants 200 OK: any other status is an
// error that quotes the status and the body.
func GetBody(ctx context.Context, url string) ([]byte, error) {
	body, code, err := Get(ctx, nil, url, nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d %s: %s", url, code, http.StatusText(code),
			strings.TrimSpace(string(body)))
	}
	return body, nil
}
