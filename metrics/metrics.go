// Package metrics is LuaRoBot's Prometheus instrumentation: the metrics the
// design names, in a registry of their own, behind typed methods that the
// host, the Lua runtime and the WeChat client call.
//
//	m := metrics.New()
//	m.Delivery("text", metrics.Replied, false, 12*time.Millisecond)
//	http.Handle("/metrics", m.Handler())
//
// Every method is safe on a nil *Metrics and does nothing there, so code
// built without metrics (tests, an embedding program that does not want
// them) passes nil.
//
// # Label values
//
// No label carries a user's openid. Every label's values are bounded, so
// that a script calling robot.client.call or robot.http with ever-new
// paths or hosts cannot grow the number of series without end: closed sets
// (outcome, reason, result, state) accept only their documented values;
// open ones (type, script, endpoint, errcode, host) keep the first values
// they see up to a cap, and count any later new value as "other".
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Delivery outcomes: what became of one message WeChat delivered.
const (
	Replied = "replied" // a reply was answered passively
	Empty   = "empty"   // no handler answered: "success"
	Late    = "late"    // answered "success" at the deadline; the reply went through the API
	Retry   = "retry"   // a retry of a message already being (or been) handled
	Error   = "error"   // a handler failed, or its reply was withheld (store error)
)

// Reasons a request is refused before any handler runs.
const (
	RefusedSignature    = "signature"      // signature or msg_signature does not match the token
	RefusedTimestamp    = "timestamp"      // timestamp outside timestamp_tolerance
	RefusedReplay       = "replay"         // a signed query seen before with another body
	RefusedPlaintext    = "plaintext"      // unencrypted message with accept_plaintext = false
	RefusedCallbackIP   = "callback_ip"    // caller not in callback_ips
	RefusedBodyTooLarge = "body_too_large" // body over max_body
	RefusedMalformed    = "malformed"      // bad query, empty body, XML that does not parse
	RefusedDecrypt      = "decrypt"        // bad base64, padding or AppID in an encrypted message
	RefusedMethod       = "method"         // neither GET nor POST
)

// Results of a token fetch or a reload.
const (
	OK     = "ok"
	Failed = "error"
)

// Other is the label value that stands for values past a label's cap, or
// outside its closed set.
const Other = "other"

// Caps on the distinct values of the open labels. Message types are bounded
// by the parser (~60); a bot has tens of scripts; WeChat has a few hundred
// endpoints and errcodes; robot.http may reach any host.
const (
	maxTypes     = 128
	maxScripts   = 256
	maxEndpoints = 256
	maxErrcodes  = 128
	maxHosts     = 128
)

// deliveryBuckets end at WeChat's 5-second deadline: what passes it is lost
// for the passive reply anyway.
var deliveryBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 4, 5}

// Metrics holds the collectors of one host. Its methods are safe for
// concurrent use and on a nil *Metrics.
type Metrics struct {
	reg *prometheus.Registry

	deliveries        *prometheus.CounterVec // {type, outcome}
	consoleDeliveries *prometheus.CounterVec // {type, outcome, console="true"}
	deliverySeconds   prometheus.Histogram
	refused           *prometheus.CounterVec
	handlerErrors     *prometheus.CounterVec
	apiCalls          *prometheus.CounterVec
	tokenFetches      *prometheus.CounterVec
	reloads           *prometheus.CounterVec
	httpRequests      *prometheus.CounterVec

	luaStates atomic.Pointer[func() LuaStates]

	types, scripts, endpoints, errcodes, hosts *openLabel
}

// LuaStates counts the Lua states by what they do, for luarobot_lua_states.
type LuaStates struct {
	Idle    int // made and waiting for a call
	Running int // running Lua
	Waiting int // in a call, waiting on the network or the clock in Go
}

// New makes the collectors and registers them, with Go's runtime and the
// process's metrics, in a registry of their own: nothing reaches
// prometheus.DefaultRegisterer, so two hosts in one process (tests, an
// embedding program) do not collide.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "luarobot_deliveries_total", Help: deliveriesHelp,
		}, []string{"type", "outcome"}),
		consoleDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "luarobot_deliveries_total", Help: deliveriesHelp, ConstLabels: prometheus.Labels{"console": "true"},
		}, []string{"type", "outcome"}),
		deliverySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "luarobot_delivery_seconds",
			Help:    "Time from a delivery's arrival to its answer to WeChat.",
			Buckets: deliveryBuckets,
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "luarobot_requests_refused_total",
			Help: "Requests to the bot's URL refused before any handler ran, by reason.",
		}, []string{"reason"}),
		handlerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "luarobot_handler_errors_total",
			Help: "Lua errors in handlers, by the script file that raised them.",
		}, []string{"script"}),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "luarobot_wechat_api_calls_total",
			Help: "Calls of the WeChat API, by endpoint (the path without /cgi-bin/) and errcode (0 success, -1 no answer).",
		}, []string{"endpoint", "errcode"}),
		tokenFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "luarobot_access_token_fetches_total",
			Help: "Access tokens fetched from WeChat, by result.",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "luarobot_reloads_total",
			Help: "Loads of the scripts folder, by result.",
		}, []string{"result"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "luarobot_http_requests_total",
			Help: "robot.http requests, by host and status (\"error\" when no response came).",
		}, []string{"host", "status"}),
		types:     newOpenLabel(maxTypes),
		scripts:   newOpenLabel(maxScripts),
		endpoints: newOpenLabel(maxEndpoints),
		errcodes:  newOpenLabel(maxErrcodes),
		hosts:     newOpenLabel(maxHosts),
	}
	// Closed sets are listed up front: every value shows as 0 from the
	// first scrape, so rate() and alerts work before the first event.
	for _, r := range []string{OK, Failed} {
		m.tokenFetches.WithLabelValues(r)
		m.reloads.WithLabelValues(r)
	}
	for r := range refusalReasons {
		m.refused.WithLabelValues(r)
	}
	m.reg.MustRegister(
		// Both halves of luarobot_deliveries_total carry one name with two
		// label sets (console deliveries have console="true"), which a
		// checked collector may not; the family is collected unchecked.
		uncheckedCollector{m.deliveries, m.consoleDeliveries},
		m.deliverySeconds, m.refused, m.handlerErrors, m.apiCalls,
		m.tokenFetches, m.reloads, m.httpRequests,
		luaStatesCollector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

const deliveriesHelp = "Messages and events WeChat delivered, by message type and outcome; console users' deliveries carry console=\"true\"."

// Handler serves the metrics in Prometheus' text format. It does not
// authenticate: the admin listener puts it behind admin_token.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Gatherer is the registry, for tests and for programs that merge these
// metrics into their own.
func (m *Metrics) Gatherer() prometheus.Gatherer {
	if m == nil {
		return prometheus.Gatherers{}
	}
	return m.reg
}

// Delivery counts one delivery of a message of type typ (WeRoBot's name:
// "text", "click_event") with its outcome (Replied, Empty, Late, Retry,
// Error) and the time until WeChat got its answer. console marks the
// deliveries of the console's users.
func (m *Metrics) Delivery(typ, outcome string, console bool, d time.Duration) {
	if m == nil {
		return
	}
	vec := m.deliveries
	if console {
		vec = m.consoleDeliveries
	}
	vec.WithLabelValues(m.types.value(typ), closed(outcome, outcomes)).Inc()
	m.deliverySeconds.Observe(d.Seconds())
}

// Refused counts a request refused for reason (one of the Refused*
// constants).
func (m *Metrics) Refused(reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(closed(reason, refusalReasons)).Inc()
}

// HandlerError counts a Lua error raised in script (the file name,
// "hello.lua"; "lib/menu.lua" for a module).
func (m *Metrics) HandlerError(script string) {
	if m == nil {
		return
	}
	if script == "" {
		script = "unknown"
	}
	m.handlerErrors.WithLabelValues(m.scripts.value(script)).Inc()
}

// APICall counts a call of the WeChat API. path is the URL path
// ("/cgi-bin/user/info"); errcode is WeChat's answer, 0 on success and -1
// when no answer came (a transport error).
func (m *Metrics) APICall(path string, errcode int) {
	if m == nil {
		return
	}
	m.apiCalls.WithLabelValues(m.endpoints.value(Endpoint(path)), m.errcodes.value(strconv.Itoa(errcode))).Inc()
}

// Endpoint is the endpoint label of an API path: without its query and
// without the /cgi-bin/ prefix ("user/info"); other roots keep their first
// segment ("sns/userinfo"). A path with characters no WeChat endpoint has
// is Other.
func Endpoint(path string) string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	path = strings.TrimPrefix(path, "/")
	path = strings.TrimPrefix(path, "cgi-bin/")
	if path == "" || len(path) > 80 {
		return Other
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '/' || c == '-' || c == '.') {
			return Other
		}
	}
	return path
}

// TokenFetch counts a fetch of the access token from WeChat: ok when it
// gave a token.
func (m *Metrics) TokenFetch(ok bool) {
	if m == nil {
		return
	}
	m.tokenFetches.WithLabelValues(result(ok)).Inc()
}

// Reload counts a load of the scripts folder: ok when the new set serves.
func (m *Metrics) Reload(ok bool) {
	if m == nil {
		return
	}
	m.reloads.WithLabelValues(result(ok)).Inc()
}

// HTTPRequest counts a robot.http request to host (the URL's host name,
// without port); status is the HTTP status, 0 when no response came.
func (m *Metrics) HTTPRequest(host string, status int) {
	if m == nil {
		return
	}
	s := "error"
	if status >= 100 && status <= 599 {
		s = strconv.Itoa(status)
	}
	m.httpRequests.WithLabelValues(m.hosts.value(strings.ToLower(host)), s).Inc()
}

// SetLuaStates gives the function luarobot_lua_states reads at each scrape
// (the Lua runtime's pool); until it is set the gauge has no series.
func (m *Metrics) SetLuaStates(f func() LuaStates) {
	if m == nil {
		return
	}
	if f == nil {
		m.luaStates.Store(nil)
		return
	}
	m.luaStates.Store(&f)
}

func result(ok bool) string {
	if ok {
		return OK
	}
	return Failed
}

var outcomes = set(Replied, Empty, Late, Retry, Error)

var refusalReasons = set(RefusedSignature, RefusedTimestamp, RefusedReplay, RefusedPlaintext, RefusedCallbackIP,
	RefusedBodyTooLarge, RefusedMalformed, RefusedDecrypt, RefusedMethod)

func set(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

// closed returns v when it belongs to the set, Other otherwise.
func closed(v string, allowed map[string]bool) string {
	if allowed[v] {
		return v
	}
	return Other
}

// openLabel admits the first max distinct values of a label; later new
// values become Other. Values must also be short, printable UTF-8.
type openLabel struct {
	max  int
	mu   sync.RWMutex
	seen map[string]bool
}

func newOpenLabel(max int) *openLabel {
	return &openLabel{max: max, seen: make(map[string]bool)}
}

func (l *openLabel) value(v string) string {
	if v == "" || len(v) > 100 || !printable(v) {
		return Other
	}
	l.mu.RLock()
	known := l.seen[v]
	l.mu.RUnlock()
	if known {
		return v
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[v] {
		return v
	}
	if len(l.seen) >= l.max {
		return Other
	}
	l.seen[v] = true
	return v
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// uncheckedCollector collects its collectors without describing them, so
// that the registry accepts one metric name with two label sets.
type uncheckedCollector []prometheus.Collector

func (uncheckedCollector) Describe(chan<- *prometheus.Desc) {}

func (u uncheckedCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range u {
		c.Collect(ch)
	}
}

var luaStatesDesc = prometheus.NewDesc("luarobot_lua_states",
	"Lua states alive, by what they do: idle (ready for a call), running (running Lua), waiting (in Go, on the network or the clock).",
	[]string{"state"}, nil)

// luaStatesCollector reads the pool's counts once per scrape.
type luaStatesCollector struct{ m *Metrics }

func (c luaStatesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- luaStatesDesc }

func (c luaStatesCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.luaStates.Load()
	if f == nil {
		return
	}
	s := (*f)()
	ch <- prometheus.MustNewConstMetric(luaStatesDesc, prometheus.GaugeValue, float64(s.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(luaStatesDesc, prometheus.GaugeValue, float64(s.Running), "running")
	ch <- prometheus.MustNewConstMetric(luaStatesDesc, prometheus.GaugeValue, float64(s.Waiting), "waiting")
}
