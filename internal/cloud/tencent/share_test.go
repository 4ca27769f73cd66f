package tencent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// stubShares answers ModifyImageSharePermission like a Tencent whose
// AccountAlreadyExists message names no account: the adapter cannot tell
// which account to drop and must settle them one by one.
type stubShares struct {
	mu     sync.Mutex
	shared map[string]bool
	calls  [][]string
}

func (s *stubShares) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req modifyImageSharePermissionRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, req.AccountIDs)
	// Like the emulator, the first problem in the list decides the answer.
	const ok = `{"Response":{"RequestId":"req-ok"}}`
	answer := ok
	for _, a := range req.AccountIDs {
		if a == "100000000777" {
			answer = fmt.Sprintf(`{"Response":{"Error":{"Code":"InvalidAccountId.NotFound",`+
				`"Message":"account %s does not exist"},"RequestId":"req-bad"}}`, a)
			break
		}
		if s.shared[a] {
			answer = `{"Response":{"Error":{"Code":"FailedOperation.AccountAlreadyExists",` +
				`"Message":"an account is already shared"},"RequestId":"req-dup"}}`
			break
		}
	}
	if answer == ok {
		for _, a := range req.AccountIDs {
			s.shared[a] = true
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(answer))
}

func TestShareSettlesUnnamedAlreadySharedOneByOne(t *testing.T) {
	stub := &stubShares{shared: map[string]bool{r2: true}}
	srv := httptest.NewServer(stub)
	t.Cleanup(srv.Close)
	c := client(t, strings.TrimPrefix(srv.URL, "http://"), cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK},
		1000)
	ctx := context.Background()
	accounts := []string{r2, r4, "100000000005"}
	if err := c.Share(ctx, gz, imgA, accounts); err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if !stub.shared[a] {
			t.Errorf("%s not shared", a)
		}
	}
	// The whole call, then one per account: len(accounts) extra calls at most.
	if len(stub.calls) != 1+len(accounts) {
		t.Fatalf("calls = %v, want %d", stub.calls, 1+len(accounts))
	}
	// A bad account met while settling one by one still fails the call, named.
	stub.calls = nil
	ce := wantReason(t, c.Share(ctx, gz, imgA, []string{r2, "100000000777", "100000000006"}),
		cloud.ReasonAccountNotFound, "")
	if ce.Account != "100000000777" {
		t.Fatalf("account = %q", ce.Account)
	}
	if n := len(stub.calls); n != 3 || !slices.Equal(stub.calls[2], []string{"100000000777"}) {
		t.Fatalf("calls = %v", stub.calls)
	}
}
