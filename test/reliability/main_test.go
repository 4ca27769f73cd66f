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

// Package reliability proves, against a real API server and the CVM emulator, that the
// operator never shares with an account it was not told to, never drops a share it was
// told to keep and never leaks the keys it holds: under injected faults, SIGKILL, two
// managers, a cloud outage and hostile input. The manager runs as a separate process
// built from cmd/, under the RBAC of config/rbac and nothing more. docs/reliability.md
// records the figures of a run.
package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

const (
	// managerUser is the identity the manager processes run as: the service
	// account config/rbac binds its roles to, before kustomize renames it. The
	// manager gets exactly the roles of config/rbac, so every test here also
	// proves that those roles suffice.
	managerUser = "system:serviceaccount:system:controller-manager"
	// leaseNamespace holds the leader election Lease (--leader-election-namespace).
	leaseNamespace = "imageshare-system"
)

// cluster is the control plane every test of the package shares.
type cluster struct {
	cp     *testenv.ControlPlane
	admin  client.Client
	config *rest.Config
	// managerKubeconfig is a kubeconfig for managerUser.
	managerKubeconfig string
}

var (
	scheme = runtime.NewScheme()
	// root is the repository root.
	root string
	// managerBin is the manager binary built from cmd/ for this run.
	managerBin string
	// kube is nil when the control plane could not start; kubeErr says why.
	kube    *cluster
	kubeErr error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The in-process clients log through controller-runtime; the tests read the
	// manager's own output, not these.
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := cvmv1alpha1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var err error
	if root, err = testenv.ProjectDir(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "imageshare-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()

	managerBin = filepath.Join(dir, testenv.ManagerBinary)
	if err := testenv.Build(context.Background(), root, dir, nil, testenv.ManagerBinary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	kube, kubeErr = startCluster(dir)
	code := m.Run()
	if kube != nil {
		if err := kube.cp.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop the control plane: %v\n", err)
		}
	}
	return code
}

// requireCluster fails a test that needs the control plane when it did not start.
func requireCluster(t *testing.T) *cluster {
	t.Helper()
	if kube == nil {
		t.Fatalf("no control plane: %v", kubeErr)
	}
	return kube
}

func startCluster(dir string) (*cluster, error) {
	cp, err := testenv.StartControlPlane(testenv.ControlPlaneOptions{})
	if err != nil {
		return nil, err
	}
	c := &cluster{cp: cp, config: rest.CopyConfig(cp.Config)}
	// Creating a thousand objects should not queue behind client-side throttling.
	c.config.QPS, c.config.Burst = 2000, 4000
	fail := func(err error) (*cluster, error) {
		return nil, errors.Join(err, cp.Stop())
	}
	if c.admin, err = client.New(c.config, client.Options{Scheme: scheme}); err != nil {
		return fail(fmt.Errorf("admin client: %w", err))
	}
	if err := c.installRBAC(); err != nil {
		return fail(err)
	}
	c.managerKubeconfig = filepath.Join(dir, "manager.kubeconfig")
	if err := cp.WriteKubeconfig(envtest.User{Name: managerUser}, c.managerKubeconfig); err != nil {
		return fail(err)
	}
	return c, nil
}

// installRBAC applies the manager's roles and bindings from config/rbac,
// the namespaced leader election ones in leaseNamespace (kustomize would set
// the namespace in a real install).
func (c *cluster) installRBAC() error {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}}
	if err := c.admin.Create(ctx, ns); err != nil {
		return fmt.Errorf("create namespace %s: %w", leaseNamespace, err)
	}
	objs := []struct {
		file string
		obj  client.Object
	}{
		{"role.yaml", &rbacv1.ClusterRole{}},
		{"role_binding.yaml", &rbacv1.ClusterRoleBinding{}},
		{"leader_election_role.yaml", &rbacv1.Role{}},
		{"leader_election_role_binding.yaml", &rbacv1.RoleBinding{}},
		{"metrics_auth_role.yaml", &rbacv1.ClusterRole{}},
		{"metrics_auth_role_binding.yaml", &rbacv1.ClusterRoleBinding{}},
	}
	for _, o := range objs {
		data, err := os.ReadFile(filepath.Join(root, "config", "rbac", o.file))
		if err != nil {
			return fmt.Errorf("read config/rbac/%s: %w", o.file, err)
		}
		if err := yaml.UnmarshalStrict(data, o.obj); err != nil {
			return fmt.Errorf("parse config/rbac/%s: %w", o.file, err)
		}
		// Only the verbs managerNeeds lists are applied: the tests then show
		// that they suffice, and TestLeastPrivilege that the files hold no more.
		switch r := o.obj.(type) {
		case *rbacv1.Role:
			r.Namespace, r.Rules = leaseNamespace, neededOnly(r.Rules)
		case *rbacv1.RoleBinding:
			r.Namespace = leaseNamespace
		case *rbacv1.ClusterRole:
			r.Rules = neededOnly(r.Rules)
		}
		if err := c.admin.Create(ctx, o.obj); err != nil {
			return fmt.Errorf("apply config/rbac/%s: %w", o.file, err)
		}
	}
	return nil
}
