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
	"encoding/json"
	"fmt"
	"os"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// DemoReport is what `hack/demo --report` writes and the e2e test reads: everything needed to
// check the demo's outcome without parsing prose. One type for both ends keeps them in step.
type DemoReport struct {
	// Processes are every process the demo started, in start order.
	Processes []Process `json:"processes"`
	// Kubeconfig is the control plane's admin kubeconfig.
	Kubeconfig string `json:"kubeconfig"`
	// ImageShares are the ImageShares as the demo found them settled, the policies' children too.
	ImageShares []cvmv1alpha1.ImageShare `json:"imageShares"`
	// ImageSharePolicies are the ImageSharePolicies as the demo found them settled.
	ImageSharePolicies []cvmv1alpha1.ImageSharePolicy `json:"imageSharePolicies"`
	// Emulator is GET /_emulator/state at the end.
	Emulator emulator.State `json:"emulator"`
	// ShareTable is the share table exactly as printed.
	ShareTable string `json:"shareTable"`
	// Stopped is true when every process was gone after the demo stopped them.
	Stopped bool `json:"stopped"`
	// Elapsed is the demo's wall time.
	Elapsed string `json:"elapsed"`
}

// Write writes the report as indented JSON to path; an empty path writes nothing.
func (r *DemoReport) Write(path string) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
