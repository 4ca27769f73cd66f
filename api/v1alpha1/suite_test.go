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

package v1alpha1_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// The admission of ImageShare lives entirely in the CRD schema, so the only honest
// test is against a real kube-apiserver: these specs install config/crd/bases into
// envtest and check what the API server accepts, rejects and defaults.

// testNamespace keeps the suite's objects apart from anything envtest creates.
const testNamespace = "api-test"

var (
	ctx          context.Context
	cancel       context.CancelFunc
	controlPlane *testenv.ControlPlane
	k8sClient    client.Client
)

func TestAPI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ImageShare API admission suite")
}

var _ = BeforeSuite(func() {
	ctx, cancel = context.WithCancel(context.Background())

	By("starting kube-apiserver and etcd with the ImageShare CRD")
	var err error
	controlPlane, err = testenv.StartControlPlane(testenv.ControlPlaneOptions{})
	Expect(err).NotTo(HaveOccurred())

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(cvmv1alpha1.AddToScheme(scheme)).To(Succeed())
	k8sClient, err = client.New(controlPlane.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	Expect(k8sClient.Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: testNamespace},
	})).To(Succeed())
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if controlPlane != nil {
		By("stopping the control plane")
		Expect(controlPlane.Stop()).To(Succeed())
	}
})
