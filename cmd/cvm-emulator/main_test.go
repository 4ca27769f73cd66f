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

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

const testSeed = `
shareLimit: 50
accounts:
  - {id: "100000000001", secretId: AKIDowner0001, secretKey: owner-secret-1}
  - {id: "100000000002"}
  - {id: "100000000003"}
images:
  - {id: img-aaaa0001, region: ap-guangzhou, owner: "100000000001", name: web-base}
`

// serve runs the emulator with args and returns its announced address and a function that stops
// it and returns run's error.
func serve(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw, slog.New(slog.DiscardHandler))
		_ = pw.CloseWithError(errors.New("run returned"))
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no address announced: %v (run: %v)", err, <-done)
	}
	addr, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "listening on ")
	if !ok || strings.HasSuffix(addr, ":0") {
		cancel()
		t.Fatalf("announcement %q, want \"listening on ADDR\" with the bound port", line)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return addr, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("emulator did not stop")
			return nil
		}
	}
}

func share(addr, account string) error {
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = addr
	prof.HttpProfile.Scheme = "http"
	c := common.NewCommonClient(common.NewCredential("AKIDowner0001", "owner-secret-1"), "ap-guangzhou", prof)
	req := tchttp.NewCommonRequest("cvm", "2017-03-12", "ModifyImageSharePermission")
	if err := req.SetActionParameters(map[string]any{
		"ImageId": "img-aaaa0001", "AccountIds": []string{account}, "Permission": "SHARE",
	}); err != nil {
		return err
	}
	return c.Send(req, tchttp.NewCommonResponse())
}

func writeSeed(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServesTheSeedAndStopsCleanly(t *testing.T) {
	addr, stop := serve(t, "--listen", "127.0.0.1:0", "--seed", writeSeed(t, testSeed))
	if err := share(addr, "100000000002"); err != nil {
		t.Errorf("share through the SDK: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("run returned %v after cancellation, want nil", err)
	}
}

func TestFlagsOverrideTheSeed(t *testing.T) {
	addr, stop := serve(t, "--listen", "127.0.0.1:0", "--seed", writeSeed(t, testSeed), "--share-limit", "1")
	defer func() { _ = stop() }()
	if err := share(addr, "100000000002"); err != nil {
		t.Fatalf("first share: %v", err)
	}
	var sdkErr *tcerr.TencentCloudSDKError
	if err := share(addr, "100000000003"); !errors.As(err, &sdkErr) || sdkErr.Code != "OverQuota" {
		t.Errorf("second share with --share-limit 1: %v, want OverQuota", err)
	}
}

func TestFaultFlags(t *testing.T) {
	addr, stop := serve(t, "--listen", "127.0.0.1:0", "--seed", writeSeed(t, testSeed), "--error-rate", "1")
	defer func() { _ = stop() }()
	var sdkErr *tcerr.TencentCloudSDKError
	if err := share(addr, "100000000002"); !errors.As(err, &sdkErr) || sdkErr.Code != "InternalError" {
		t.Errorf("share with --error-rate 1: %v, want InternalError", err)
	}
}

func TestShareFailRateFlag(t *testing.T) {
	addr, stop := serve(t, "--listen", "127.0.0.1:0", "--seed", writeSeed(t, testSeed), "--share-fail-rate", "1")
	defer func() { _ = stop() }()
	var sdkErr *tcerr.TencentCloudSDKError
	if err := share(addr, "100000000002"); !errors.As(err, &sdkErr) || sdkErr.Code != "FailedOperation.QImageShareFailed" {
		t.Errorf("share with --share-fail-rate 1: %v, want FailedOperation.QImageShareFailed", err)
	}
}

func TestCopyVisibilityDelayFlag(t *testing.T) {
	addr, stop := serve(t, "--listen", "127.0.0.1:0", "--seed", writeSeed(t, testSeed),
		"--copy-visibility-delay", "1h")
	defer func() { _ = stop() }()
	var synced struct {
		Response struct{ ImageSet []struct{ ImageId string } }
	}
	if err := call(addr, "ap-guangzhou", "SyncImages", map[string]any{
		"ImageIds": []string{"img-aaaa0001"}, "DestinationRegions": []string{"ap-shanghai"}, "ImageSetRequired": true,
	}, &synced); err != nil || len(synced.Response.ImageSet) != 1 {
		t.Fatalf("SyncImages: %v %+v", err, synced)
	}
	var listed struct{ Response struct{ TotalCount int } }
	if err := call(addr, "ap-shanghai", "DescribeImages",
		map[string]any{"ImageIds": []string{synced.Response.ImageSet[0].ImageId}}, &listed); err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	if listed.Response.TotalCount != 0 {
		t.Errorf("with --copy-visibility-delay 1h the new copy is listed at once")
	}
}

// call sends action as the seed's owner and decodes the answer into out.
func call(addr, region, action string, params map[string]any, out any) error {
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = addr
	prof.HttpProfile.Scheme = "http"
	c := common.NewCommonClient(common.NewCredential("AKIDowner0001", "owner-secret-1"), region, prof)
	req := tchttp.NewCommonRequest("cvm", "2017-03-12", action)
	if err := req.SetActionParameters(params); err != nil {
		return err
	}
	resp := tchttp.NewCommonResponse()
	if err := c.Send(req, resp); err != nil {
		return err
	}
	return json.Unmarshal(resp.GetBody(), out)
}

func TestRunsWithoutASeed(t *testing.T) {
	addr, stop := serve(t, "--listen", "127.0.0.1:0", "--latency", "1ms", "--qps", "5", "--sync-seconds", "0")
	var sdkErr *tcerr.TencentCloudSDKError
	if err := share(addr, "100000000002"); !errors.As(err, &sdkErr) || sdkErr.Code != "AuthFailure.SecretIdNotFound" {
		t.Errorf("call to an empty cloud: %v, want AuthFailure.SecretIdNotFound", err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

func TestRejectsBadInput(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	bad := writeSeed(t, testSeed+"  - {id: img-aaaa0001, region: ap-guangzhou, owner: \"100000000001\"}\n")
	for name, args := range map[string][]string{
		"duplicate image in seed": {"--listen", "127.0.0.1:0", "--seed", bad},
		"missing seed file":       {"--seed", filepath.Join(t.TempDir(), "none.yaml")},
		"bad error rate":          {"--listen", "127.0.0.1:0", "--error-rate", "2"},
		"bad share fail rate":     {"--listen", "127.0.0.1:0", "--share-fail-rate", "-1"},
		"negative visibility":     {"--listen", "127.0.0.1:0", "--copy-visibility-delay", "-1s"},
		"unknown flag":            {"--shares", "3"},
		"stray argument":          {"serve"},
		"bad listen address":      {"--listen", "nowhere"},
	} {
		err := run(t.Context(), args, io.Discard, logger)
		if err == nil {
			t.Errorf("%s: run succeeded", name)
		}
		if name == "duplicate image in seed" && (err == nil || !strings.Contains(err.Error(), "images[1]")) {
			t.Errorf("%s: error %v does not name the entry", name, err)
		}
	}
}
