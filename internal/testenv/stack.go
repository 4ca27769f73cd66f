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
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Binary names in StackOptions.BinDir, as Build writes them.
const (
	ManagerBinary  = "manager"
	EmulatorBinary = "cvm-emulator"
)

// DemoAPIQPS is the manager's --api-qps in the demo and the end-to-end tests: the manager's own
// default, so the demo shows the operator as it runs anywhere. The wrong-region sample makes
// the manager search the other regions for its image, one DescribeImages call each; at 10
// calls/s that search finishes within a couple of seconds.
const DemoAPIQPS = 10

// StackOptions say where a Stack finds its parts and puts its files.
type StackOptions struct {
	// ProjectDir is the repository root: config/crd/bases is installed from it.
	ProjectDir string
	// Dir receives the kubeconfig, the logs and the run data (bin/demo for the demo).
	Dir string
	// BinDir holds the manager and cvm-emulator binaries (see Build).
	BinDir string
	// AssetsDir holds kube-apiserver, etcd and kubectl.
	AssetsDir string
	// Seed is the emulator's seed file.
	Seed string
	// EmulatorListen is the emulator's --listen address; empty means 127.0.0.1:0 (a free port).
	EmulatorListen string
	// ManagerArgs are extra manager flags, e.g. --share-limit 500.
	ManagerArgs []string
	// Progress receives one line per step; nil is silent.
	Progress func(format string, args ...any)
}

// Stack is the whole system on this machine, each part a process of its own on loopback: etcd
// and kube-apiserver, the CVM emulator binary with a seed, and the manager binary pointed at
// it. make demo and the end-to-end tests start it through this one code path. Stop it when
// done, also when a later step fails; or leave it running (make demo KEEP=1), each process
// leading a process group of its own.
type Stack struct {
	*ControlPlane
	// Emulator is the emulator's host:port (the manager's --cvm-endpoint).
	Emulator string
	// ManagerArgs are the flags the manager runs with.
	ManagerArgs []string
	// Processes are every process the stack started, in start order.
	Processes []Process
	opts      StackOptions
	children  []*Child
	logs      []*os.File
}

// StartStack starts etcd and kube-apiserver, the emulator with the seed, installs the CRDs with
// kubectl, starts the manager and waits until it is ready. On failure it stops whatever it
// started and says which part failed, with the end of its log.
func StartStack(ctx context.Context, opts StackOptions) (*Stack, error) {
	if opts.Progress == nil {
		opts.Progress = func(string, ...any) {}
	}
	if opts.EmulatorListen == "" {
		opts.EmulatorListen = "127.0.0.1:0"
	}
	if missing := missingExecutables(filepath.Join(opts.BinDir, ManagerBinary),
		filepath.Join(opts.BinDir, EmulatorBinary)); len(missing) > 0 {
		return nil, fmt.Errorf("missing %s: build them with testenv.Build (make demo does)", strings.Join(missing, ", "))
	}
	if _, err := os.Stat(opts.Seed); err != nil {
		return nil, fmt.Errorf("emulator seed: %w", err)
	}
	s := &Stack{opts: opts}
	if err := s.start(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context) error {
	s.opts.Progress("Starting etcd and kube-apiserver on loopback (logs: %s, %s)",
		s.rel(filepath.Join(s.opts.Dir, "etcd.log")), s.rel(filepath.Join(s.opts.Dir, "kube-apiserver.log")))
	cp, err := StartControlPlane(ControlPlaneOptions{AssetsDir: s.opts.AssetsDir, Dir: s.opts.Dir,
		LogDir: s.opts.Dir, SkipCRDs: true})
	if err != nil {
		return err
	}
	s.ControlPlane = cp
	procs, err := cp.Processes()
	s.Processes = append(s.Processes, procs...)
	if err != nil {
		return err
	}
	s.opts.Progress("Control plane is up at %s; kubeconfig %s", cp.APIServer, s.rel(cp.Kubeconfig))
	if err := s.startEmulator(ctx); err != nil {
		return err
	}
	crds := filepath.Join(s.opts.ProjectDir, "config", "crd", "bases")
	s.opts.Progress("Installing the ImageShare CRD (kubectl apply -f %s)", s.rel(crds))
	if _, _, err := cp.Kubectl(ctx, "apply", "-f", crds); err != nil {
		return fmt.Errorf("install CRDs: %w", err)
	}
	if _, _, err := cp.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/imageshares.cvm.imageshare.dev"); err != nil {
		return fmt.Errorf("wait for the ImageShare CRD: %w", err)
	}
	return s.startManager(ctx)
}

// logFile creates (truncating) a log in Dir that lives until Stop.
func (s *Stack) logFile(name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(s.opts.Dir, name))
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	s.logs = append(s.logs, f)
	return f, nil
}

func (s *Stack) track(c *Child) {
	s.children = append(s.children, c)
	s.Processes = append(s.Processes, c.Process)
}

var listeningLine = regexp.MustCompile(`(?m)^listening on (\S+)$`)

func (s *Stack) startEmulator(ctx context.Context) error {
	s.opts.Progress("Starting the CVM emulator with %s", s.rel(s.opts.Seed))
	log, err := s.logFile("emulator.log")
	if err != nil {
		return err
	}
	c, err := StartChild(ProcessEmulator, filepath.Join(s.opts.BinDir, EmulatorBinary),
		[]string{"--listen", s.opts.EmulatorListen, "--seed", s.opts.Seed}, os.Environ(), log)
	if err != nil {
		return err
	}
	s.track(c)
	// The emulator prints its bound address on stdout, which goes to its log.
	err = c.WaitFor(ctx, startTimeout, func() (bool, error) {
		data, err := os.ReadFile(log.Name())
		if err != nil {
			return false, fmt.Errorf("read emulator log: %w", err)
		}
		if m := listeningLine.FindSubmatch(data); m != nil {
			s.Emulator = string(m[1])
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("start the CVM emulator on %s: %w", s.opts.EmulatorListen, err)
	}
	s.opts.Progress("Emulator is listening on %s (log: %s)", s.Emulator, s.rel(log.Name()))
	return nil
}

func (s *Stack) startManager(ctx context.Context) error {
	probe, err := FreeAddr()
	if err != nil {
		return err
	}
	s.ManagerArgs = ManagerArgs(s.Emulator, probe, s.opts.ManagerArgs...)
	log, err := s.logFile("manager.log")
	if err != nil {
		return err
	}
	bin := filepath.Join(s.opts.BinDir, ManagerBinary)
	s.opts.Progress("Starting the manager: %s %s (log: %s)", s.rel(bin), strings.Join(s.ManagerArgs, " "),
		s.rel(log.Name()))
	c, err := ManagerProcess{Bin: bin, Kubeconfig: s.Kubeconfig, Args: s.ManagerArgs, Log: log, Probe: probe}.Start(ctx)
	if err != nil {
		return err
	}
	s.track(c)
	s.opts.Progress("Manager is ready")
	return nil
}

// Stop stops the manager, the emulator, kube-apiserver and etcd, in that order, checks that none
// of the stack's processes is left, and removes the kubeconfig and the run data. Logs stay.
func (s *Stack) Stop() error {
	var errs []error
	for _, c := range slices.Backward(s.children) {
		errs = append(errs, c.Stop(stopTimeout))
	}
	if s.ControlPlane != nil {
		errs = append(errs, s.ControlPlane.Stop())
	}
	if left := Running(s.Processes); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes still running after stop: %s", Describe(left)))
	}
	for _, f := range s.logs {
		_ = f.Close()
	}
	return errors.Join(errs...)
}

func (s *Stack) rel(path string) string { return RelPath(s.opts.ProjectDir, path) }
