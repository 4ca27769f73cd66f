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

package emulator_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

func TestConcurrentSharesNeverPassTheLimit(t *testing.T) {
	const limit, callers = 10, 30
	seed := &emulator.Seed{ShareLimit: limit}
	seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: ownerID, SecretID: ownerKeyID, SecretKey: ownerSecret})
	receivers := make([]string, 0, callers)
	for i := range callers {
		id := fmt.Sprintf("2000000000%02d", i)
		receivers = append(receivers, id)
		seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: id})
	}
	seed.Images = []emulator.SeedImage{{ID: imgPlain, Region: guangzhou, Owner: ownerID}}
	emu, addr := emulatortest.Start(t, seed)

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		codes     = map[string]int{}
		unexpect  []error
		readerErr error
	)
	for _, acct := range receivers {
		wg.Go(func() {
			err := modify(ownerClient(addr, guangzhou), imgPlain, share, acct)
			mu.Lock()
			defer mu.Unlock()
			var sdkErr *tcerr.TencentCloudSDKError
			switch {
			case err == nil:
				codes["ok"]++
			case errors.As(err, &sdkErr):
				codes[sdkErr.Code]++
			default:
				unexpect = append(unexpect, err)
			}
		})
	}
	// Readers race the writers: DescribeImages, the share list, State and Stats.
	for range 4 {
		wg.Go(func() {
			c := ownerClient(addr, guangzhou)
			for range 10 {
				_ = emu.State()
				_ = emu.Stats()
				if err := send(c, emulator.ActionDescribeImageSharePermission, map[string]any{"ImageId": imgPlain}, nil); err != nil {
					mu.Lock()
					readerErr = err
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()

	if len(unexpect) > 0 || readerErr != nil {
		t.Fatalf("unexpected errors: %v, reader: %v", unexpect, readerErr)
	}
	if codes["ok"] != limit || codes[emulator.CodeOverQuota] != callers-limit {
		t.Errorf("outcomes %v, want %d ok and %d OverQuota", codes, limit, callers-limit)
	}
	if got := len(sharedWith(t, emu, imgPlain)); got != limit {
		t.Errorf("%d shares, want %d", got, limit)
	}
	if got := emu.Stats().Calls[emulator.ActionModifyImageSharePermission]; got != callers {
		t.Errorf("stats count %d share calls, want %d", got, callers)
	}
}

func TestConcurrentShareAndCancelChurn(t *testing.T) {
	emu, addr := start(t) // shareLimit 3
	accounts := []string{receiverA, receiverB, receiverC, peerID}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c := ownerClient(addr, guangzhou)
			for j := range 15 {
				acct := accounts[(i+j)%len(accounts)]
				permission := share
				if (i+j)%2 == 1 {
					permission = cancel
				}
				_ = modify(c, imgPlain, permission, acct) // conflicts are expected; the invariant is checked below
				if n := len(sharedWith(t, emu, imgPlain)); n > 3 {
					t.Errorf("%d shares, over the limit of 3", n)
				}
			}
		})
	}
	wg.Wait()
}
