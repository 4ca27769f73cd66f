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

import "time"

// NewWithClock is New with a clock the test controls. It exists only in tests, and must be called
// before the emulator serves its first request.
func NewWithClock(seed *Seed, now func() time.Time) (*Emulator, error) {
	e, err := New(seed)
	if err != nil {
		return nil, err
	}
	e.now = now
	return e, nil
}
