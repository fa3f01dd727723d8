package client_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
)

func TestAccessTokenFetchedOnceAndCached(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.wx.TokenFetches(); n != 1 {
		t.Fatalf("token fetches = %d, want 1", n)
	}
	call, _ := e.wx.LastCall("/cgi-bin/token")
	if call.Query.Get("appid") != testAppID || call.Query.Get("secret") != testSecret || call.Query.Get("grant_type") != "client_credential" {
		t.Errorf("token query = %v", call.Query)
	}
	tok, ok := e.tokens.get(testAppID + ":access_token")
	if !ok || tok.Value != e.wx.AccessToken() {
		t.Fatalf("stored token = %+v, want %q under %q", tok, e.wx.AccessToken(), testAppID+":access_token")
	}
	// Stored with the time to stop using it: 7200 s less the 5-minute margin.
	if d := time.Until(tok.Expires); d < 7200*time.Second-6*time.Minute || d > 7200*time.Second-4*time.Minute {
		t.Errorf("token usable for %v, want about 1h55m", d)
	}
}

func TestSingleFlight(t *testing.T) {
	e := newEnv(t)
	// A slow token endpoint keeps the first fetch in flight while the other
	// callers arrive.
	e.wx.Delay("/cgi-bin/token", 100*time.Millisecond)
	const callers = 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	start := make(chan struct{})
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := e.c.Invoke(context.Background(), "get_ip_list")
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.wx.TokenFetches(); n != 1 {
		t.Fatalf("%d concurrent first calls made %d token fetches, want 1", callers, n)
	}
	if n := len(e.wx.CallsTo("/cgi-bin/getcallbackip")); n != callers {
		t.Fatalf("getcallbackip calls = %d, want %d", n, callers)
	}
}

func TestSingleFlightSurvivesCancelledFirstCaller(t *testing.T) {
	e := newEnv(t)
	e.wx.Delay("/cgi-bin/token", 200*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := e.c.AccessToken(ctx)
		first <- err
	}()
	time.Sleep(50 * time.Millisecond)
	second := make(chan error, 1)
	go func() {
		_, err := e.c.AccessToken(context.Background())
		second <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel() // the caller that started the fetch gives up
	if err := <-first; err == nil {
		t.Error("cancelled caller got a token")
	}
	if err := <-second; err != nil {
		t.Fatalf("the other waiter failed with the first caller: %v", err)
	}
	if n := e.wx.TokenFetches(); n != 1 {
		t.Fatalf("token fetches = %d, want 1", n)
	}
}

func TestRefreshAndRetryOnRejectedToken(t *testing.T) {
	for _, code := range []int{40001, 40014, 42001} {
		e := newEnv(t)
		ctx := context.Background()
		if _, err := e.c.AccessToken(ctx); err != nil {
			t.Fatal(err)
		}
		old := e.wx.AccessToken()
		e.wx.FailOnce("/cgi-bin/menu/get", code)
		res, err := e.c.Invoke(ctx, "get_menu")
		if err != nil {
			t.Fatalf("errcode %d: %v", code, err)
		}
		if res.(map[string]any)["menu"] == nil {
			t.Errorf("errcode %d: result %v", code, res)
		}
		calls := e.wx.CallsTo("/cgi-bin/menu/get")
		if len(calls) != 2 {
			t.Fatalf("errcode %d: %d calls, want the call and one retry", code, len(calls))
		}
		if calls[0].AccessToken != old || calls[1].AccessToken == old || calls[1].AccessToken != e.wx.AccessToken() {
			t.Errorf("errcode %d: tokens %q then %q, want %q then a new one", code, calls[0].AccessToken, calls[1].AccessToken, old)
		}
		if n := e.wx.TokenFetches(); n != 2 {
			t.Errorf("errcode %d: token fetches = %d, want 2", code, n)
		}
	}
}

func TestRetryOnlyOnce(t *testing.T) {
	e := newEnv(t)
	e.wx.FailOnce("/cgi-bin/menu/get", 40001)
	e.wx.FailOnce("/cgi-bin/menu/get", 40001)
	_, err := e.c.Invoke(context.Background(), "get_menu")
	var apiErr *client.APIError
	if !asAPIError(err, &apiErr) || apiErr.Code != 40001 {
		t.Fatalf("err = %v, want errcode 40001 after one retry", err)
	}
	if n := len(e.wx.CallsTo("/cgi-bin/menu/get")); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
}

// When the token expires under many parallel callers, each of them sees it
// fail, but only the first invalidation may throw it away: the others find
// the new token instead of fetching one each.
func TestParallelRejectionsRefreshOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	e.wx.ExpireToken()
	e.wx.Delay("/cgi-bin/token", 50*time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.c.Invoke(ctx, "get_tags")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.wx.TokenFetches(); n != 2 {
		t.Fatalf("token fetches = %d, want 2 (the first and one refresh)", n)
	}
}

func TestTokenSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
		t.Fatal(err)
	}
	token := e.wx.AccessToken()
	c2 := e.restart(t)
	got, err := c2.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != token {
		t.Errorf("restarted client token = %q, want the stored %q", got, token)
	}
	if _, err := c2.Invoke(ctx, "get_menu"); err != nil {
		t.Fatal(err)
	}
	if n := e.wx.TokenFetches(); n != 1 {
		t.Fatalf("token fetches = %d, want 1: a restart must reuse the stored token", n)
	}
}

func TestTokensOfTwoAccountsDoNotCollide(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	opts := e.opts
	opts.AppID = "wxother"
	c2, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// The fake knows only the first account: the second must ask WeChat
	// (and fail) rather than take the first account's token.
	if tok, err := c2.AccessToken(ctx); err == nil {
		t.Fatalf("second account got %q from the first account's cache", tok)
	}
}

func TestRefreshBeforeExpiry(t *testing.T) {
	e := newEnv(t)
	// A token that lives 2 s is used for 2 s less a fifth: after 1.6 s the
	// Client fetches the next one before WeChat would reject it.
	e.wx.SetTokenTTL(2 * time.Second)
	ctx := context.Background()
	first, err := e.c.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := e.c.AccessToken(ctx); again != first {
		t.Fatal("token refreshed too early")
	}
	time.Sleep(1700 * time.Millisecond)
	next, err := e.c.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next == first {
		t.Fatal("token not refreshed before it expired")
	}
}

func TestStableToken(t *testing.T) {
	e := newEnv(t, func(o *client.Options) { o.UseStableToken = true })
	ctx := context.Background()
	if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.wx.CallsTo("/cgi-bin/token")); n != 0 {
		t.Fatalf("use_stable_token called /cgi-bin/token %d times", n)
	}
	calls := e.wx.CallsTo("/cgi-bin/stable_token")
	if len(calls) != 1 {
		t.Fatalf("stable_token calls = %d, want 1", len(calls))
	}
	want := map[string]any{"grant_type": "client_credential", "appid": testAppID, "secret": testSecret, "force_refresh": false}
	if !equalJSON(calls[0].Body, want) || calls[0].Method != "POST" {
		t.Fatalf("stable_token %s body = %v, want %v", calls[0].Method, calls[0].Body, want)
	}
	// After a rejection the Client asks without force_refresh first (the
	// rejection may come from another deployment's forced refresh, and the
	// answer is then the new token). Here WeChat hands back the token it
	// just rejected, so the Client forces, once.
	rejected := e.wx.AccessToken()
	e.wx.FailOnce("/cgi-bin/menu/get", 40001)
	if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
		t.Fatal(err)
	}
	calls = e.wx.CallsTo("/cgi-bin/stable_token")
	if len(calls) != 3 || calls[1].Body["force_refresh"] != false || calls[2].Body["force_refresh"] != true {
		var forces []any
		for _, c := range calls {
			forces = append(forces, c.Body["force_refresh"])
		}
		t.Fatalf("after 40001: force_refresh of the stable_token calls = %v, want [false false true]", forces)
	}
	if last, _ := e.wx.LastCall("/cgi-bin/menu/get"); last.AccessToken == rejected {
		t.Fatal("the retry used the rejected token")
	}
	// A restart with stable tokens reuses the stored one too.
	before := e.wx.TokenFetches()
	if _, err := e.restart(t).Invoke(ctx, "get_menu"); err != nil {
		t.Fatal(err)
	}
	if e.wx.TokenFetches() != before {
		t.Fatal("restart fetched a new stable token")
	}
}

// Two deployments of one account, each with its own store: the case
// stable_token exists for. A forced refresh kills the other deployment's
// token at once, so forcing on every rejection makes them force each other
// for ever, and WeChat allows 20 forced refreshes a day. One hiccup must
// cost at most one forced refresh.
func TestStableTokenDeploymentsDoNotForceEachOther(t *testing.T) {
	a := newEnv(t, func(o *client.Options) { o.UseStableToken = true })
	optsB := a.opts
	optsB.Tokens = newMemTokens()
	b, err := client.New(optsB)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	deployments := []*client.Client{a.c, b}
	for _, c := range deployments {
		if _, err := c.Invoke(ctx, "get_menu"); err != nil {
			t.Fatal(err)
		}
	}
	a.wx.FailOnce("/cgi-bin/menu/get", 40001) // one hiccup for A
	for i := 0; i < 10; i++ {
		for _, c := range deployments {
			if _, err := c.Invoke(ctx, "get_menu"); err != nil {
				t.Fatal(err)
			}
		}
	}
	forced := 0
	for _, c := range a.wx.CallsTo("/cgi-bin/stable_token") {
		if c.Body["force_refresh"] == true {
			forced++
		}
	}
	if forced > 1 {
		t.Errorf("one rejection led to %d forced refreshes: the deployments keep invalidating each other", forced)
	}
	if n := a.wx.TokenFetches(); n > 5 {
		t.Errorf("%d token fetches for one rejection", n)
	}
}

// A deployment whose token another deployment killed with a forced
// refresh needs no force itself: the plain fetch returns the new token.
func TestStableTokenRejectionAfterOtherForcedRefresh(t *testing.T) {
	e := newEnv(t, func(o *client.Options) { o.UseStableToken = true })
	ctx := context.Background()
	if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
		t.Fatal(err)
	}
	old := e.wx.AccessToken()
	body := `{"grant_type":"client_credential","appid":"` + testAppID + `","secret":"` + testSecret + `","force_refresh":true}`
	resp, err := http.Post(e.wx.URL+"/cgi-bin/stable_token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if e.wx.AccessToken() == old {
		t.Fatal("the other deployment's forced refresh did not replace the token")
	}
	e.wx.Reset()
	if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
		t.Fatal(err)
	}
	calls := e.wx.CallsTo("/cgi-bin/stable_token")
	if len(calls) != 1 || calls[0].Body["force_refresh"] != false {
		t.Errorf("after the other deployment's refresh: %d stable_token calls, first %v; want one without force_refresh", len(calls), calls)
	}
}

func TestJSAPITicket(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.c.JSAPITicket(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := e.wx.TicketFetches(); n != 1 {
		t.Fatalf("ticket fetches = %d, want 1", n)
	}
	call, _ := e.wx.LastCall("/cgi-bin/ticket/getticket")
	if call.Query.Get("type") != "jsapi" || call.AccessToken == "" {
		t.Errorf("getticket query = %v", call.Query)
	}
	ticket, _ := e.c.JSAPITicket(ctx)
	if stored, ok := e.tokens.get(testAppID + ":jsapi_ticket"); !ok || stored.Value != ticket {
		t.Errorf("stored ticket = %+v, want %q", stored, ticket)
	}
	// It survives a restart like the token.
	if _, err := e.restart(t).JSAPITicket(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.wx.TicketFetches(); n != 1 {
		t.Fatalf("ticket fetches after restart = %d, want 1", n)
	}
	// grant_jsapi_ticket fetches a new one now.
	res, err := e.c.Invoke(ctx, "grant_jsapi_ticket")
	if err != nil {
		t.Fatal(err)
	}
	if res.(map[string]any)["ticket"] == ticket || e.wx.TicketFetches() != 2 {
		t.Errorf("grant_jsapi_ticket = %v after %d fetches", res, e.wx.TicketFetches())
	}
}

func TestJSAPISignature(t *testing.T) {
	// The example of WeChat's JS-SDK documentation (附录1).
	got := client.JSAPISignature("sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
		"Wm3WZYTPz0wzccnW", "1414587457", "http://mp.weixin.qq.com?params=value#fragment")
	if want := "0f9de62fce790f9a083d5c99e95740ceb90c27ed"; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func TestGrantToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.c.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.c.Invoke(ctx, "grant_token")
	if err != nil {
		t.Fatal(err)
	}
	m := res.(map[string]any)
	if m["access_token"] == first || m["expires_in"] != int64(7200) {
		t.Fatalf("grant_token = %v", m)
	}
	if now, _ := e.c.AccessToken(ctx); now != m["access_token"] {
		t.Fatalf("grant_token did not replace the cached token: %q", now)
	}
	tok, err := e.c.Invoke(ctx, "get_access_token")
	if err != nil || tok != m["access_token"] {
		t.Fatalf("get_access_token = %v, %v", tok, err)
	}
}

// slowInvalidate widens the window between a rejection and the store
// forgetting the token, as a remote store (Redis) does.
type slowInvalidate struct{ *memTokens }

func (s slowInvalidate) InvalidateToken(ctx context.Context, name, value string) error {
	time.Sleep(100 * time.Millisecond)
	return s.memTokens.InvalidateToken(ctx, name, value)
}

// A caller that loads the token from the store while a rejected token is
// still being deleted must not adopt it again: the rejected caller's retry
// would fail with it a second time.
func TestRejectedTokenNotReadoptedFromStore(t *testing.T) {
	e := newEnv(t)
	e.opts.Tokens = slowInvalidate{e.tokens}
	c := e.restart(t)
	ctx := context.Background()
	if _, err := c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	e.wx.ExpireToken()
	rejected := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, "get_tags") // 42001, then invalidates slowly
		rejected <- err
	}()
	time.Sleep(30 * time.Millisecond)
	// Meanwhile another call finds no cached token and reads the store,
	// which still holds the rejected one; its slow request would keep that
	// token cached while the first caller retries.
	e.wx.Delay("/cgi-bin/menu/get", 200*time.Millisecond)
	if _, err := c.Invoke(ctx, "get_menu"); err != nil {
		t.Fatal(err)
	}
	if err := <-rejected; err != nil {
		t.Fatalf("the rejected caller's retry failed: %v", err)
	}
}

// grant_token(false) must not fetch a token: a new one from /cgi-bin/token
// invalidates the one this process (and every other on the store) is
// using. It returns the cached token in the shape of WeChat's answer,
// fetching (and caching) one only when there is none.
func TestGrantTokenWithoutOverrideKeepsCachedToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.c.Invoke(ctx, "grant_token", false)
	if err != nil {
		t.Fatal(err)
	}
	m := res.(map[string]any)
	token := e.wx.AccessToken()
	if m["access_token"] != token || e.wx.TokenFetches() != 1 {
		t.Fatalf("grant_token(false) with none cached = %v after %d fetches, want %q after 1", m, e.wx.TokenFetches(), token)
	}
	if in, _ := m["expires_in"].(int64); in < 7200-6*60 || in > 7200-5*60 {
		t.Errorf("expires_in = %v, want the seconds the token is still used (about 6900)", m["expires_in"])
	}
	if stored, _ := e.tokens.get(testAppID + ":access_token"); stored.Value != token {
		t.Errorf("the token was not cached: store has %q", stored.Value)
	}
	res, err = e.c.Invoke(ctx, "grant_token", false)
	if err != nil {
		t.Fatal(err)
	}
	if res.(map[string]any)["access_token"] != token || e.wx.TokenFetches() != 1 {
		t.Fatalf("grant_token(false) = %v after %d fetches, want the cached %q and no fetch", res, e.wx.TokenFetches(), token)
	}
	if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.log.String(), "rejected the access token") {
		t.Error("the cached token was invalidated: the next call was rejected")
	}
}

func TestGrantJSAPITicketWithoutOverrideKeepsCachedTicket(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.c.Invoke(ctx, "grant_jsapi_ticket", false)
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := e.c.JSAPITicket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.(map[string]any)["ticket"] != ticket || e.wx.TicketFetches() != 1 {
		t.Fatalf("grant_jsapi_ticket(false) = %v after %d fetches, want the ticket it cached (%q)", res, e.wx.TicketFetches(), ticket)
	}
	res, err = e.c.Invoke(ctx, "grant_jsapi_ticket", false)
	if err != nil {
		t.Fatal(err)
	}
	m := res.(map[string]any)
	if m["ticket"] != ticket || m["errcode"] != int64(0) || e.wx.TicketFetches() != 1 {
		t.Fatalf("grant_jsapi_ticket(false) = %v after %d fetches, want the cached %q and no fetch", m, e.wx.TicketFetches(), ticket)
	}
}

// The access token expires by Options.Now: a test harness's clock moved
// past its lifetime makes the Client fetch a new one, without waiting.
func TestTokenExpiryFollowsTheClock(t *testing.T) {
	wx := fakewechat.New(testAppID, testSecret)
	defer wx.Close()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, err := client.New(client.Options{AppID: testAppID, AppSecret: testSecret, APIBase: wx.URL, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := c.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Hour) // 7200 s tokens are used for 7200 s less 5 minutes
	mu.Unlock()
	if again, _ := c.AccessToken(ctx); again != first || wx.TokenFetches() != 1 {
		t.Fatalf("refreshed after an hour: %d fetches", wx.TokenFetches())
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if next, _ := c.AccessToken(ctx); next == first || wx.TokenFetches() != 2 {
		t.Fatalf("not refreshed after two hours: %d fetches", wx.TokenFetches())
	}
}
