// Package tencent implements cloud.Client over Tencent Cloud's official Go SDK
// (tencentcloud-sdk-go/tencentcloud/common): the SDK signs, picks endpoints and
// decodes errors; this package owns the few CVM request/response shapes the
// operator needs, the client-side rate limit and the error classification.
package tencent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

const (
	service    = "cvm"
	apiVersion = "2017-03-12"
	// DefaultEndpoint is the SDK's own CVM endpoint.
	DefaultEndpoint = "cvm.tencentcloudapi.com"
	// maxIDsPerCall is the most image or account IDs Tencent takes in one call.
	maxIDsPerCall = 100

	actionModifyShare  = "ModifyImageSharePermission"
	actionSyncImages   = "SyncImages"
	actionDeleteImages = "DeleteImages"

	// Codes of calls the client held back and never sent.
	codeRateLimited  = "ClientError.RateLimited"
	codeEndpointDown = "ClientError.EndpointDown"
)

// Options configure every client the factory makes.
type Options struct {
	// Endpoint is host[:port]; empty means the SDK's cvm.tencentcloudapi.com.
	Endpoint string
	// Scheme is "https" (default) or "http" (the emulator).
	Scheme string
	// QPS is the client-side budget per credential and action: the ceiling
	// of a rate that adapts down on RequestLimitExceeded and recovers.
	QPS float64
	// Timeout bounds each call.
	Timeout time.Duration
}

// Factory hands out one Client per distinct credential, so that every
// ImageShare using the same keys shares one rate budget. It forgets a client
// no reconcile asked for in clientIdleTTL, and holds at most maxClients:
// rotated or mistyped keys must not stay in memory for the manager's life.
type Factory struct {
	opts    Options
	mu      sync.Mutex
	clients map[string]*factoryEntry
	breaker *breaker
}

type factoryEntry struct {
	client *Client
	used   time.Time
}

const (
	// clientIdleTTL is well past the default resync period (10m): keys
	// still referenced are asked for at least once a period.
	clientIdleTTL = time.Hour
	// maxClients bounds the credentials held at once.
	maxClients = 10000
)

// NewFactory returns a Factory; zero options take safe defaults.
func NewFactory(opts Options) *Factory {
	if opts.Scheme == "" {
		opts.Scheme = "https"
	}
	if opts.QPS <= 0 {
		opts.QPS = DefaultQPS
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	return &Factory{opts: opts, clients: map[string]*factoryEntry{}, breaker: newBreaker(endpoint)}
}

// ClientFor returns the client for creds, creating it on first use.
func (f *Factory) ClientFor(creds cloud.Credentials) (cloud.Client, error) {
	if creds.SecretID == "" || creds.SecretKey == "" {
		return nil, fmt.Errorf("credentials need both a secret ID and a secret key")
	}
	// The key is a digest, so the map never holds a second copy of the secret.
	sum := sha256.Sum256([]byte(creds.SecretID + "\x00" + creds.SecretKey + "\x00" + creds.Token))
	if creds.Role != "" {
		// Temporary credentials change at each refresh: one client (and
		// one rate budget) per role, its keys replaced when they change.
		sum = sha256.Sum256([]byte("role\x00" + creds.Role))
	}
	key := hex.EncodeToString(sum[:])
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.clients[key]; ok {
		e.used = now
		e.client.setCreds(creds)
		return e.client, nil
	}
	f.forgetIdle(now)
	c := &Client{opts: f.opts, creds: creds, sdk: map[string]*common.Client{}, lim: newLimiter(f.opts.QPS, nil),
		breaker: f.breaker}
	f.clients[key] = &factoryEntry{client: c, used: now}
	return c, nil
}

// forgetIdle drops the clients unused for clientIdleTTL and, past
// maxClients, the least recently used one. f.mu is held.
func (f *Factory) forgetIdle(now time.Time) {
	var oldest string
	for k, e := range f.clients {
		if now.Sub(e.used) > clientIdleTTL {
			delete(f.clients, k)
		} else if oldest == "" || e.used.Before(f.clients[oldest].used) {
			oldest = k
		}
	}
	if len(f.clients) >= maxClients {
		delete(f.clients, oldest)
	}
}

// Client is a cloud.Client for one credential.
type Client struct {
	opts  Options
	creds cloud.Credentials

	mu  sync.Mutex
	sdk map[string]*common.Client // by region: the SDK binds a client to one region
	lim *limiter                  // by action, adapting to RequestLimitExceeded

	breaker *breaker // shared by every client of the endpoint
}

var _ cloud.Client = (*Client)(nil)

func (c *Client) sdkClient(region string) *common.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sc, ok := c.sdk[region]; ok {
		return sc
	}
	var cred common.CredentialIface
	if c.creds.Token != "" {
		cred = common.NewTokenCredential(c.creds.SecretID, c.creds.SecretKey, c.creds.Token)
	} else {
		cred = common.NewCredential(c.creds.SecretID, c.creds.SecretKey)
	}
	prof := profile.NewClientProfile()
	// The SDK's debug log prints request headers, Authorization included.
	prof.Debug = false
	// Retries belong to the controller's backoff, not to a blocking SDK loop.
	prof.NetworkFailureMaxRetries = 0
	prof.RateLimitExceededMaxRetries = 0
	prof.DisableRegionBreaker = true
	prof.HttpProfile.Endpoint = c.opts.Endpoint
	if prof.HttpProfile.Endpoint == "" {
		prof.HttpProfile.Endpoint = DefaultEndpoint
	}
	prof.HttpProfile.Scheme = strings.ToUpper(c.opts.Scheme)
	prof.HttpProfile.ReqTimeout = max(int(c.opts.Timeout/time.Second), 1)
	sc := common.NewCommonClient(cred, region, prof)
	c.sdk[region] = sc
	return sc
}

// call sends one action. It never waits for the rate limiter: when no token
// is available it books the next free slot for this request (slot names the
// request: action, region, image) and fails at once with Throttled and the
// time of that slot, so the reconcile requeues instead of holding a worker.
// The retry of the same request then uses its booked slot: callers are served
// in the order they came, and none can starve behind others that retry more
// often. A RequestLimitExceeded from the cloud slows the action down (see
// limiter) and books the retry's slot the same way.
func (c *Client) call(ctx context.Context, region, action, slot string, req, resp any, about subject) error {
	if wait := c.breaker.allow(time.Now()); wait > 0 {
		observeCall(action, codeEndpointDown, 0)
		return &cloud.Error{Op: action, Code: codeNetworkError, Reason: cloud.ReasonCloudError,
			Message: "the endpoint did not answer recently; waiting before trying again", RetryAfter: wait}
	}
	key, low := region+"/"+slot, cloud.IsLowPriority(ctx)
	if wait := c.lim.admit(action, key, low); wait > 0 {
		observeCall(action, codeRateLimited, 0)
		return &cloud.Error{Op: action, Code: codeRateLimited, Reason: cloud.ReasonThrottled,
			Message: fmt.Sprintf("client-side limit of %.3g calls/s reached", c.lim.rate(action)), RetryAfter: wait,
			Booked: !low}
	}
	sent := c.lim.now()
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	request := tchttp.NewCommonRequest(service, apiVersion, action)
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", action, err)
	}
	if err := request.SetActionParameters(body); err != nil {
		return fmt.Errorf("encode %s request: %w", action, err)
	}
	request.SetContext(ctx)
	start := time.Now()
	err = c.sdkClient(region).Send(request, resp.(tchttp.Response))
	if err != nil {
		ce := classify(action, err, about)
		if expiredToken(ce.Code) && c.temporary() {
			// Refreshed credentials the cloud calls expired (a clock off,
			// a refresh late): the next reconcile brings new ones.
			ce.Reason, ce.RetryAfter = cloud.ReasonCloudError, time.Second
		}
		observeCall(action, ce.Code, time.Since(start))
		if ce.Reason == cloud.ReasonThrottled {
			throttled.WithLabelValues(action).Inc()
			// Slow this action down, and come back at the slot booked for the retry.
			ce.RetryAfter, ce.Booked = c.lim.throttled(action, key, sent, low), !low
		}
		c.breaker.record(time.Now(), ce.RequestID == "" && ce.Reason == cloud.ReasonCloudError)
		about.audit.write(ctx, region, resp, ce)
		return ce
	}
	c.breaker.record(time.Now(), false)
	observeCall(action, "Success", time.Since(start))
	about.audit.write(ctx, region, resp, nil)
	return nil
}

// DescribeImages implements cloud.Client, 100 IDs per call as the API allows.
func (c *Client) DescribeImages(ctx context.Context, region string, ids []string) (map[string]cloud.Image, error) {
	out := map[string]cloud.Image{}
	for chunk := range slices.Chunk(ids, maxIDsPerCall) {
		req := describeImagesRequest{ImageIds: chunk, Limit: uint64(len(chunk))}
		resp := &describeImagesResponse{BaseResponse: &tchttp.BaseResponse{}}
		if err := c.call(ctx, region, "DescribeImages", chunk[0], req, resp, subject{}); err != nil {
			return nil, err
		}
		for _, img := range resp.Response.ImageSet {
			out[img.ImageID] = img.toCloud(region)
		}
	}
	return out, nil
}

// ListShares implements cloud.Client.
func (c *Client) ListShares(ctx context.Context, region, imageID string) ([]string, error) {
	req := describeImageSharePermissionRequest{ImageID: imageID}
	resp := &describeImageSharePermissionResponse{BaseResponse: &tchttp.BaseResponse{}}
	if err := c.call(ctx, region, "DescribeImageSharePermission", imageID, req, resp, subject{}); err != nil {
		return nil, err
	}
	accounts := make([]string, 0, len(resp.Response.SharePermissionSet))
	for _, p := range resp.Response.SharePermissionSet {
		accounts = append(accounts, p.AccountID)
	}
	slices.Sort(accounts)
	return slices.Compact(accounts), nil
}

// Regions implements cloud.Client.
func (c *Client) Regions(ctx context.Context) ([]string, error) {
	resp := &describeRegionsResponse{BaseResponse: &tchttp.BaseResponse{}}
	if err := c.call(ctx, "ap-guangzhou", "DescribeRegions", "", struct{}{}, resp, subject{}); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range resp.Response.RegionSet {
		if r.RegionState == "" || r.RegionState == "AVAILABLE" {
			out = append(out, r.Region)
		}
	}
	slices.Sort(out)
	return out, nil
}

// FindImagesByName implements cloud.Client.
func (c *Client) FindImagesByName(ctx context.Context, region, name string) ([]cloud.Image, error) {
	req := describeImagesRequest{Filters: []filter{{Name: "image-name", Values: []string{name}},
		{Name: "image-type", Values: []string{cloud.ImageTypePrivate}}}, Limit: maxIDsPerCall}
	resp := &describeImagesResponse{BaseResponse: &tchttp.BaseResponse{}}
	if err := c.call(ctx, region, "DescribeImages", "name="+name, req, resp, subject{}); err != nil {
		return nil, err
	}
	var out []cloud.Image
	for _, img := range resp.Response.ImageSet {
		if img.ImageName == name {
			out = append(out, img.toCloud(region))
		}
	}
	slices.SortFunc(out, func(a, b cloud.Image) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Copy implements cloud.Client.
func (c *Client) Copy(ctx context.Context, region, imageID string, destinations []string,
	name string) (map[string]string, error) {
	req := syncImagesRequest{ImageIds: []string{imageID}, DestinationRegions: destinations, ImageName: name,
		ImageSetRequired: true}
	resp := &syncImagesResponse{BaseResponse: &tchttp.BaseResponse{}}
	about := subject{regions: destinations, audit: &auditLine{action: actionSyncImages, imageID: imageID,
		done: "Copied image to regions", failed: "Could not copy image to regions",
		kv: []any{"destinationRegions", destinations}}}
	if err := c.call(ctx, region, actionSyncImages, imageID, req, resp, about); err != nil {
		return nil, err
	}
	return resp.copies(), nil
}

// Delete implements cloud.Client.
func (c *Client) Delete(ctx context.Context, region, imageID string) error {
	resp := &deleteImagesResponse{BaseResponse: &tchttp.BaseResponse{}}
	about := subject{audit: &auditLine{action: actionDeleteImages, imageID: imageID, done: "Deleted image",
		failed: "Could not delete image"}}
	return c.call(ctx, region, actionDeleteImages, imageID, deleteImagesRequest{ImageIds: []string{imageID}}, resp,
		about)
}
