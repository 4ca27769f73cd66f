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
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// FrontCall is one API call as a CloudFront saw it.
type FrontCall struct {
	// Action is the X-TC-Action header.
	Action string
	// Body is the request body.
	Body []byte
	// Code is the error code of the answer, "" on success.
	Code string
}

// CloudFront serves an emulator in this process on a loopback port of its own, and lets a test
// change what answers there: swap the emulator (a restarted cloud, whose keys may have changed),
// answer chosen calls itself (a fault the emulator has no knob for), see every call after it
// was answered (the place to kill a manager between a call's effect and its reply), go down and
// come back on the same address (an outage), and count the calls. Several fronts may serve one
// emulator, so that calls can be told apart by the manager that made them.
type CloudFront struct {
	addr string

	mu        sync.Mutex
	emu       *emulator.Emulator
	srv       *http.Server
	intercept func(action string, body map[string]any) (code, message string)
	hook      func(FrontCall)
	total     int
}

// StartFront serves emu on 127.0.0.1 at a free port. Stop it when done.
func StartFront(emu *emulator.Emulator) (*CloudFront, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the emulator: %w", err)
	}
	f := &CloudFront{emu: emu, addr: ln.Addr().String()}
	f.serve(ln)
	return f, nil
}

// Addr is the front's host:port, the manager's --cvm-endpoint (with scheme http).
func (f *CloudFront) Addr() string { return f.addr }

func (f *CloudFront) serve(ln net.Listener) {
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop closes the listener and every open connection: the endpoint is down.
func (f *CloudFront) Stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart serves again on the same address after Stop. It fails while the port is not free yet;
// callers retry.
func (f *CloudFront) Restart() error {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s again: %w", f.addr, err)
	}
	f.serve(ln)
	return nil
}

// SetEmulator makes emu answer from now on, at the same address.
func (f *CloudFront) SetEmulator(emu *emulator.Emulator) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emu = emu
}

// SetIntercept makes the front answer, with an error, the calls for which fn returns a code;
// nil removes it.
func (f *CloudFront) SetIntercept(fn func(action string, body map[string]any) (code, message string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = fn
}

// SetHook makes fn see every call after it was answered and before the answer is sent; nil
// removes it.
func (f *CloudFront) SetHook(fn func(FrontCall)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = fn
}

// TotalCalls is how many calls the front has answered.
func (f *CloudFront) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// ServeHTTP answers one call: intercepted, or by the emulator.
func (f *CloudFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*emulator.MaxBodyBytes))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	emu, intercept := f.emu, f.intercept
	f.mu.Unlock()
	call := FrontCall{Action: r.Header.Get("X-TC-Action"), Body: body}
	rec := httptest.NewRecorder()
	var fields map[string]any
	msg := ""
	if intercept != nil && json.Unmarshal(body, &fields) == nil {
		call.Code, msg = intercept(call.Action, fields)
	}
	if call.Code != "" {
		rec.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rec).Encode(map[string]any{"Response": map[string]any{
			"Error": map[string]string{"Code": call.Code, "Message": msg}, "RequestId": "intercepted"}})
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
		emu.ServeHTTP(rec, r)
		var answer struct {
			Response struct {
				Error *struct{ Code string } `json:"Error"`
			} `json:"Response"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &answer) == nil && answer.Response.Error != nil {
			call.Code = answer.Response.Error.Code
		}
	}
	f.mu.Lock()
	f.total++
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
