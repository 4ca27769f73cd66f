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
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// PodHardening lists how pod falls short of the hardened security context the manager ships
// with (config/manager/manager.yaml): the pod runs as non-root under the RuntimeDefault seccomp
// profile, and every container has a read-only root file system, no privilege escalation, is
// not privileged and drops ALL capabilities, adding none. Nothing listed means hardened; the
// suites that check the manifests and the installed bundle both ask it, each adding its own.
func PodHardening(pod *corev1.PodSpec) []string {
	var problems []string
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		problems = append(problems, "the pod must set runAsNonRoot: true")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		problems = append(problems, "the pod must use the RuntimeDefault seccomp profile")
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil {
			problems = append(problems, fmt.Sprintf("container %s has no securityContext", c.Name))
			continue
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			problems = append(problems, fmt.Sprintf("container %s must set readOnlyRootFilesystem: true", c.Name))
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			problems = append(problems, fmt.Sprintf("container %s must set allowPrivilegeEscalation: false", c.Name))
		}
		if sc.Privileged != nil && *sc.Privileged {
			problems = append(problems, fmt.Sprintf("container %s must not be privileged", c.Name))
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			problems = append(problems, fmt.Sprintf("container %s must drop ALL capabilities and add none (has %+v)",
				c.Name, sc.Capabilities))
		}
	}
	return problems
}
