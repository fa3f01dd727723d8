package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/store"
)

// Callers is the callback IP allowlist (callback_ips, trusted_proxies): it
// tells which addresses may call the bot, and reads the caller's address
// through the proxies the host sits behind. Put it in Options.Callers; the
// Handler then answers 403 to anyone else before reading the request.
//
// Its entries are IP addresses, CIDRs and "wechat": the addresses WeChat
// calls from, as its API's getcallbackip lists them. That list is kept in
// the store, so that a restart while WeChat's API is unreachable still has
// one, and refreshed daily by Run. It is safe for concurrent use.
type Callers struct {
	static  []netip.Prefix
	trusted []netip.Prefix
	opts    CallersOptions
	// wechat is WeChat's list, swapped whole by a refresh; nil when the
	// allowlist does not hold "wechat".
	wechat atomic.Pointer[wechatIPs]
}

// CallersOptions configures NewCallers.
type CallersOptions struct {
	// Allow holds the entries of callback_ips: "wechat", IP addresses,
	// CIDRs. Empty allows nobody (leave Options.Callers nil to allow
	// anyone).
	Allow []string
	// TrustedProxies are the addresses (IPs, CIDRs) of the proxies whose
	// X-Forwarded-For and X-Real-IP headers are believed.
	TrustedProxies []string
	// FetchWeChatIPs asks WeChat for its callback addresses
	// (client.CallbackIPs); required when Allow holds "wechat".
	FetchWeChatIPs func(ctx context.Context) ([]string, error)
	// Store keeps WeChat's list across restarts and processes, under
	// StoreKey (the credentials store: scripts cannot write it, as they
	// could through robot.store). Nil keeps it in memory only.
	Store    store.Tokens
	StoreKey string
	// Refresh is how often WeChat's list is fetched again (default 24h).
	Refresh time.Duration
	Logger  *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// DefaultWeChatIPsKey is where the last list of WeChat's addresses is kept.
const DefaultWeChatIPsKey = "luarobot:wechat_callback_ips"

// wechatIPs is WeChat's list as fetched and as stored.
type wechatIPs struct {
	Fetched  time.Time `json:"fetched"`
	List     []string  `json:"ip_list"`
	prefixes []netip.Prefix
}

// retryAfterFailure is how soon a failed refresh of WeChat's list is tried
// again; the list in use stays meanwhile.
const retryAfterFailure = time.Hour

// NewCallers builds the allowlist. With "wechat" in Allow it needs WeChat's
// list now: a stored one younger than Refresh, else a fresh fetch, else any
// stored one (with a warning); when none can be had it returns an error,
// and the host must not start (it would refuse WeChat, or let anyone in).
func NewCallers(ctx context.Context, opts CallersOptions) (*Callers, error) {
	if opts.Refresh <= 0 {
		opts.Refresh = 24 * time.Hour
	}
	if opts.StoreKey == "" {
		opts.StoreKey = DefaultWeChatIPsKey
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Callers{opts: opts}
	useWeChat := false
	for _, e := range opts.Allow {
		if e == "wechat" {
			useWeChat = true
			continue
		}
		p, err := config.ParseCIDR(e)
		if err != nil {
			return nil, fmt.Errorf(`callback_ips: %q is neither "wechat" nor an IP address or CIDR`, e)
		}
		c.static = append(c.static, p)
	}
	for _, e := range opts.TrustedProxies {
		p, err := config.ParseCIDR(e)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %q is not an IP address or CIDR", e)
		}
		c.trusted = append(c.trusted, p)
	}
	if useWeChat {
		if opts.FetchWeChatIPs == nil {
			return nil, errors.New(`callback_ips: "wechat" needs app_id and app_secret (the list comes from WeChat's API)`)
		}
		if err := c.loadWeChatIPs(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// loadWeChatIPs finds the list at start-up.
func (c *Callers) loadWeChatIPs(ctx context.Context) error {
	stored, serr := c.storedWeChatIPs(ctx)
	if serr == nil && c.opts.Now().Sub(stored.Fetched) < c.opts.Refresh {
		c.wechat.Store(stored)
		return nil
	}
	fresh, ferr := c.fetchWeChatIPs(ctx)
	if ferr == nil {
		c.wechat.Store(fresh)
		return nil
	}
	if serr == nil {
		c.opts.Logger.Warn("callback_ips: WeChat's address list could not be fetched; using the stored one",
			"error", ferr, "fetched", stored.Fetched)
		c.wechat.Store(stored)
		return nil
	}
	return fmt.Errorf(`callback_ips: "wechat": WeChat's address list could not be fetched (%w) and none is stored (%v); `+
		"the host would refuse WeChat, so it does not start (fix the API access, or list CIDRs instead)", ferr, serr)
}

// fetchWeChatIPs asks WeChat and keeps the answer in the store.
func (c *Callers) fetchWeChatIPs(ctx context.Context) (*wechatIPs, error) {
	list, err := c.opts.FetchWeChatIPs(ctx)
	if err != nil {
		return nil, err
	}
	w, err := newWeChatIPs(c.opts.Now(), list)
	if err != nil {
		return nil, err
	}
	if c.opts.Store != nil {
		data, _ := json.Marshal(w)
		if err := c.opts.Store.SaveToken(ctx, c.opts.StoreKey, store.Token{Value: string(data)}); err != nil {
			// The list works for this process; the next restart fetches.
			c.opts.Logger.Warn("callback_ips: storing WeChat's address list", "error", err)
		}
	}
	return w, nil
}

func (c *Callers) storedWeChatIPs(ctx context.Context) (*wechatIPs, error) {
	if c.opts.Store == nil {
		return nil, errors.New("no store")
	}
	t, err := c.opts.Store.LoadToken(ctx, c.opts.StoreKey)
	if err != nil {
		return nil, err
	}
	var w wechatIPs
	if err := json.Unmarshal([]byte(t.Value), &w); err != nil {
		return nil, fmt.Errorf("stored list: %w", err)
	}
	return newWeChatIPs(w.Fetched, w.List)
}

// newWeChatIPs parses WeChat's list: addresses and CIDRs. Entries that are
// neither are skipped; a list with none left is an error, as an empty
// allowlist would refuse WeChat itself.
func newWeChatIPs(fetched time.Time, list []string) (*wechatIPs, error) {
	w := &wechatIPs{Fetched: fetched}
	for _, e := range list {
		p, err := config.ParseCIDR(strings.TrimSpace(e))
		if err != nil {
			continue
		}
		w.List = append(w.List, e)
		w.prefixes = append(w.prefixes, p)
	}
	if len(w.prefixes) == 0 {
		return nil, fmt.Errorf("WeChat's address list holds no address (%d entries)", len(list))
	}
	return w, nil
}

// Run refreshes WeChat's list every Refresh (an hour after a failure,
// keeping the list in use) until ctx ends. It returns at once when the
// allowlist does not hold "wechat".
func (c *Callers) Run(ctx context.Context) {
	cur := c.wechat.Load()
	if cur == nil {
		return
	}
	wait := cur.Fetched.Add(c.opts.Refresh).Sub(c.opts.Now())
	for {
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		fresh, err := c.fetchWeChatIPs(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.opts.Logger.Warn("callback_ips: refreshing WeChat's address list failed; keeping the current one",
				"error", err, "retry_in", retryAfterFailure)
			wait = retryAfterFailure
			continue
		}
		c.wechat.Store(fresh)
		c.opts.Logger.Info("callback_ips: WeChat's address list refreshed", "addresses", len(fresh.List))
		wait = c.opts.Refresh
	}
}

// Caller returns the address of whoever sent r: the peer, or, when the
// peer is a trusted proxy, the right-most address of X-Forwarded-For that
// is not a trusted proxy, or X-Real-IP when there is no X-Forwarded-For or
// all its addresses are trusted proxies (else the left-most of them). When
// both headers are there they must agree (or X-Real-IP name a trusted
// proxy): a proxy that sets one of them passes
// the other on as the client sent it, and which one it sets is not known
// here. An address that cannot be read is the zero Addr, which no
// allowlist holds.
func (c *Callers) Caller(r *http.Request) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !contains(c.trusted, peer) {
		return peer
	}
	var real netip.Addr
	realSet := r.Header.Get("X-Real-IP") != ""
	if realSet {
		real = parseAddr(r.Header.Get("X-Real-IP"))
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops := strings.Split(strings.Join(xff, ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a := parseAddr(hops[i])
			if !a.IsValid() || !contains(c.trusted, a) {
				if realSet && real != a && !(real.IsValid() && contains(c.trusted, real)) {
					return netip.Addr{}
				}
				return a
			}
		}
		// Every hop is a trusted proxy: the first proxy did not append the
		// client's address, so it is the one that set X-Real-IP (nginx
		// setting X-Real-IP behind a load balancer that appends). Without
		// X-Real-IP the request comes from the left-most proxy itself.
		if realSet {
			return real
		}
		return parseAddr(hops[0])
	}
	if realSet {
		return real
	}
	return peer
}

// Allowed reports whether addr may call the bot.
func (c *Callers) Allowed(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	if contains(c.static, addr) {
		return true
	}
	w := c.wechat.Load()
	return w != nil && contains(w.prefixes, addr)
}

// WeChatIPs returns WeChat's list in use and when it was fetched (nil when
// the allowlist does not hold "wechat").
func (c *Callers) WeChatIPs() ([]string, time.Time) {
	w := c.wechat.Load()
	if w == nil {
		return nil, time.Time{}
	}
	return append([]string(nil), w.List...), w.Fetched
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr reads an address as RemoteAddr ("1.2.3.4:5678", "[::1]:80")
// or a forwarding header ("1.2.3.4", "[2001:db8::1]:443", " ::1 ") gives
// it, IPv4-mapped IPv6 addresses as IPv4.
func parseAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// refuseCaller answers a caller that is not on the allowlist: 403, before
// the query or the body is read, and a log line with the refusal reason
// callback_ip.
func (h *Handler) refuseCaller(w http.ResponseWriter, r *http.Request, caller netip.Addr) {
	who := "unreadable"
	if caller.IsValid() {
		who = caller.String()
	}
	h.refused(ReasonCallbackIP)
	h.log.Warn("request refused", "status", http.StatusForbidden, "reason", ReasonCallbackIP,
		"error", "caller "+who+" is not in callback_ips", "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, "forbidden: this address may not call the bot\n")
}
