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

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// The end-to-end suite drives the product the way a user does: the real kubectl
// binary against a real kube-apiserver and etcd (envtest, on loopback), with the
// CRDs from config/crd/bases. No Kind, no Docker, no cluster to bring.

var (
	// controlPlane is the suite's API server; its Kubeconfig is what kubectl uses.
	controlPlane *testenv.ControlPlane
	// projectDir is the repository root, for config/samples and the binaries.
	projectDir string
	// assetsDir holds kube-apiserver, etcd and kubectl (KUBEBUILDER_ASSETS).
	assetsDir string
	// binDir receives the manager, emulator and demo binaries the suite builds, once per run.
	binDir string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ImageShare end-to-end suite")
}

var _ = BeforeSuite(func() {
	var err error
	projectDir, err = testenv.ProjectDir()
	Expect(err).NotTo(HaveOccurred())
	assetsDir, err = testenv.AssetsDir()
	Expect(err).NotTo(HaveOccurred(), "the end-to-end tests need kube-apiserver, etcd and kubectl")

	binDir, err = os.MkdirTemp("", "imageshare-e2e-bin-")
	Expect(err).NotTo(HaveOccurred())

	By("starting kube-apiserver and etcd with the ImageShare CRD")
	controlPlane, err = testenv.StartControlPlane(testenv.ControlPlaneOptions{AssetsDir: assetsDir})
	Expect(err).NotTo(HaveOccurred())
	_, _ = fmt.Fprintf(GinkgoWriter, "KUBECONFIG=%s; kubectl %s\n", controlPlane.Kubeconfig,
		controlPlane.KubectlPath)
})

var _ = AfterSuite(func() {
	if binDir != "" {
		Expect(os.RemoveAll(binDir)).To(Succeed())
	}
	if controlPlane != nil {
		By("stopping the control plane")
		Expect(controlPlane.Stop()).To(Succeed())
	}
})

// kubectl runs the real kubectl against the suite's control plane.
func kubectl(args ...string) (stdout, stderr string, err error) {
	return echoed(controlPlane.Kubectl, args...)
}

// echoed runs kubectl through run (a ControlPlane's or a Stack's Kubectl, which bound the call
// with testenv's kubectl timeout) and echoes the command and its output to GinkgoWriter.
func echoed(run func(context.Context, ...string) (string, string, error), args ...string) (stdout, stderr string,
	err error) {
	stdout, stderr, err = run(context.Background(), args...)
	_, _ = fmt.Fprintf(GinkgoWriter, "$ kubectl %v\n%s%s", args, stdout, stderr)
	return stdout, stderr, err
}

// writeManifest puts a manifest in a file of its own for `kubectl apply -f`, the
// way a user hands one over.
func writeManifest(name, content string) string {
	GinkgoHelper()
	dir, err := os.MkdirTemp(controlPlane.Dir, "manifest-")
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(dir, name)
	Expect(os.WriteFile(path, []byte(content), 0o600)).To(Succeed())
	return path
}
