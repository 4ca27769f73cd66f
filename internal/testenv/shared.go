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
	"errors"
	"fmt"
	"os"
	"sync"
)

// SharedControlPlane is one control plane for a whole test binary: started by the first test
// that asks for it (tests that need no API server never start it), stopped by Main.
type SharedControlPlane struct {
	// Options are how to start it.
	Options ControlPlaneOptions
	// Setup, when set, runs once after the start (to install more CRDs, say); its error stops
	// the control plane and fails every test that asks for it.
	Setup func(*ControlPlane) error

	once sync.Once
	cp   *ControlPlane
	err  error
}

// TB is the part of testing.TB that SharedControlPlane uses; this package does not import
// testing, as hack/ programs link it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Get returns the control plane, starting it on the first call; a failed start fails t.
func (s *SharedControlPlane) Get(t TB) *ControlPlane {
	t.Helper()
	s.once.Do(func() {
		cp, err := StartControlPlane(s.Options)
		if err == nil && s.Setup != nil {
			if err = s.Setup(cp); err != nil {
				err = errors.Join(err, cp.Stop())
			}
		}
		if err == nil {
			s.cp = cp
		}
		s.err = err
	})
	if s.err != nil {
		t.Fatalf("start the control plane: %v", s.err)
	}
	return s.cp
}

// Main is TestMain's body: it runs the tests (m.Run), stops the control plane if one started,
// and exits with the tests' code, or 1 if the stop failed.
func (s *SharedControlPlane) Main(m interface{ Run() int }) {
	code := m.Run()
	if s.cp != nil {
		if err := s.cp.Stop(); err != nil {
			_, _ = fmt.Fprintf(os.Stderr, "stop control plane: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// MustFreeAddr is FreeAddr for a test: a failure fails t.
func MustFreeAddr(t TB) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return addr
}
