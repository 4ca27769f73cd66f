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
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Faults are the failures injected into API calls. Zero values turn each off.
type Faults struct {
	// QPS is the calls per second allowed per (account, action); beyond it RequestLimitExceeded.
	QPS float64 `json:"qps,omitempty"`
	// ErrorRate is the probability, 0 to 1, that a call fails with InternalError before any effect.
	ErrorRate float64 `json:"errorRate,omitempty"`
	// Latency is added to every API call. In YAML and JSON it is a duration string such as "50ms".
	Latency time.Duration `json:"latency,omitempty"`
	// QPSByAction overrides QPS for the actions it names, as Tencent documents a
	// limit per action (10/s for the share APIs, 40/s for DescribeImages).
	QPSByAction map[string]float64 `json:"qpsByAction,omitempty"`
	// CopyVisibilityDelay keeps a copy made by SyncImages out of every read and every action
	// for this long after the call, as the real cloud's listing lags behind a copy it has
	// accepted. In YAML and JSON it is a duration string such as "3s".
	CopyVisibilityDelay time.Duration `json:"copyVisibilityDelay,omitempty"`
	// ShareFailRate is the probability, 0 to 1, that a valid SHARE or CANCEL fails with
	// FailedOperation.QImageShareFailed, with no effect.
	ShareFailRate float64 `json:"shareFailRate,omitempty"`
}

// faultsJSON is Faults as written in a seed: durations are raw so that both "50ms" and a bare 0
// are accepted.
type faultsJSON struct {
	QPS                 float64            `json:"qps,omitempty"`
	ErrorRate           float64            `json:"errorRate,omitempty"`
	Latency             json.RawMessage    `json:"latency,omitempty"`
	QPSByAction         map[string]float64 `json:"qpsByAction,omitempty"`
	CopyVisibilityDelay json.RawMessage    `json:"copyVisibilityDelay,omitempty"`
	ShareFailRate       float64            `json:"shareFailRate,omitempty"`
}

// MarshalJSON writes the durations as duration strings so that a Seed round-trips through YAML.
func (f Faults) MarshalJSON() ([]byte, error) {
	out := struct {
		QPS                 float64            `json:"qps,omitempty"`
		ErrorRate           float64            `json:"errorRate,omitempty"`
		Latency             string             `json:"latency,omitempty"`
		QPSByAction         map[string]float64 `json:"qpsByAction,omitempty"`
		CopyVisibilityDelay string             `json:"copyVisibilityDelay,omitempty"`
		ShareFailRate       float64            `json:"shareFailRate,omitempty"`
	}{QPS: f.QPS, ErrorRate: f.ErrorRate, QPSByAction: f.QPSByAction, ShareFailRate: f.ShareFailRate}
	if f.Latency != 0 {
		out.Latency = f.Latency.String()
	}
	if f.CopyVisibilityDelay != 0 {
		out.CopyVisibilityDelay = f.CopyVisibilityDelay.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the durations as duration strings ("50ms", "0s") or a bare 0.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var aux faultsJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // the outer strict decoder does not reach inside a custom unmarshaler
	if err := dec.Decode(&aux); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	latency, err := parseDuration("latency", aux.Latency)
	if err != nil {
		return err
	}
	visibility, err := parseDuration("copyVisibilityDelay", aux.CopyVisibilityDelay)
	if err != nil {
		return err
	}
	*f = Faults{
		QPS: aux.QPS, ErrorRate: aux.ErrorRate, Latency: latency, QPSByAction: aux.QPSByAction,
		CopyVisibilityDelay: visibility, ShareFailRate: aux.ShareFailRate,
	}
	return nil
}

// parseDuration reads faults.<field> as a duration string, or a bare 0.
func parseDuration(field string, raw json.RawMessage) (time.Duration, error) {
	text := strings.TrimSpace(string(raw))
	if text == "" || text == "null" || text == "0" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("faults.%s: %s is not a duration string such as \"50ms\"", field, text)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("faults.%s: %q is not a duration such as \"50ms\": %w", field, s, err)
	}
	return d, nil
}

func (f Faults) validate() error {
	var errs []error
	if f.QPS < 0 {
		errs = append(errs, fmt.Errorf("faults.qps %v: must not be negative", f.QPS))
	}
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		errs = append(errs, fmt.Errorf("faults.errorRate %v: must be between 0 and 1", f.ErrorRate))
	}
	if f.ShareFailRate < 0 || f.ShareFailRate > 1 {
		errs = append(errs, fmt.Errorf("faults.shareFailRate %v: must be between 0 and 1", f.ShareFailRate))
	}
	if f.Latency < 0 {
		errs = append(errs, fmt.Errorf("faults.latency %v: must not be negative", f.Latency))
	}
	if f.CopyVisibilityDelay < 0 {
		errs = append(errs, fmt.Errorf("faults.copyVisibilityDelay %v: must not be negative", f.CopyVisibilityDelay))
	}
	for action, qps := range f.QPSByAction {
		if qps < 0 {
			errs = append(errs, fmt.Errorf("faults.qpsByAction.%s %v: must not be negative", action, qps))
		}
	}
	return errors.Join(errs...)
}

// delay adds the configured latency to every API call, giving up early if the client does.
func (e *Emulator) delay(r *http.Request) {
	e.faultsMu.Lock()
	latency := e.faults.Latency
	e.faultsMu.Unlock()
	if latency <= 0 {
		return
	}
	timer := time.NewTimer(latency)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.Context().Done():
	}
}

type bucketKey struct{ account, action string }

// bucket is a token bucket holding up to max(1, qps) calls and refilled at qps per second.
type bucket struct {
	tokens float64
	last   time.Time
}

// injectFaults applies the qps limit and the error rate, both before the action has any effect.
func (e *Emulator) injectFaults(c *call) *apiError {
	e.faultsMu.Lock()
	defer e.faultsMu.Unlock()
	qps := e.faults.QPS
	if q, ok := e.faults.QPSByAction[c.action]; ok {
		qps = q
	}
	if qps > 0 {
		key := bucketKey{account: c.caller.id, action: actionKey(c.action)}
		capacity := math.Max(1, qps)
		b, ok := e.buckets[key]
		if !ok {
			b = &bucket{tokens: capacity, last: c.started}
			e.buckets[key] = b
		}
		b.tokens = math.Min(capacity, b.tokens+c.started.Sub(b.last).Seconds()*qps)
		b.last = c.started
		if b.tokens < 1 {
			return errf(CodeRequestLimitExceeded,
				"Your current request times equals to `%v` per second for action %s, exceeding the frequency limit.",
				qps, c.action)
		}
		b.tokens--
	}
	if rate := e.faults.ErrorRate; rate > 0 && mrand.Float64() < rate {
		return errf(CodeInternalError, "An internal error has occurred. Retry your request (injected fault).")
	}
	return nil
}

// shareFails draws the shareFailRate fault for one SHARE or CANCEL that passed every check.
func (e *Emulator) shareFails(img *image, permission string) *apiError {
	e.faultsMu.Lock()
	rate := e.faults.ShareFailRate
	e.faultsMu.Unlock()
	if rate <= 0 || mrand.Float64() >= rate {
		return nil
	}
	return errf(CodeQImageShareFailed, "Image sharing failed: %s of image `%s` did not complete. Retry your request "+
		"(injected fault).", permission, img.id)
}

// copyVisibilityDelay is how long a new SyncImages copy stays out of sight.
func (e *Emulator) copyVisibilityDelay() time.Duration {
	e.faultsMu.Lock()
	defer e.faultsMu.Unlock()
	return e.faults.CopyVisibilityDelay
}

func actionKey(action string) string {
	if _, ok := actions[action]; ok {
		return action
	}
	return InvalidActionKey
}

// SetFaults replaces the injected faults at run time. Out-of-range values are clamped, and the
// rate limiter starts afresh.
func (e *Emulator) SetFaults(f Faults) {
	f.QPS = math.Max(0, f.QPS)
	f.ErrorRate = math.Min(1, math.Max(0, f.ErrorRate))
	f.ShareFailRate = math.Min(1, math.Max(0, f.ShareFailRate))
	f.Latency = max(0, f.Latency)
	f.CopyVisibilityDelay = max(0, f.CopyVisibilityDelay)
	e.faultsMu.Lock()
	defer e.faultsMu.Unlock()
	e.faults = f
	e.buckets = map[bucketKey]*bucket{}
}
