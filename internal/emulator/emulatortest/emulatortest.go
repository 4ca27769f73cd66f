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

// Package emulatortest starts the CVM emulator on loopback for tests.
package emulatortest

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// Start serves a new emulator for seed on 127.0.0.1 and returns it with its host:port, ready to
// be an SDK HttpProfile.Endpoint (with Scheme "http"). The server stops when the test ends.
func Start(tb testing.TB, seed *emulator.Seed) (*emulator.Emulator, string) {
	tb.Helper()
	emu, err := emulator.New(seed)
	if err != nil {
		tb.Fatalf("start CVM emulator: %v", err)
	}
	srv := httptest.NewServer(emu)
	tb.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		tb.Fatalf("parse emulator URL %q: %v", srv.URL, err)
	}
	return emu, u.Host
}
