package luaapi

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/store/memory"
)

// The examples that call web APIs, each served by the real host (signed
// deliveries in, XML replies out, late replies through the fake WeChat
// API) with a fake upstream in place of the web API.

// exampleHost is an example folder served by host.Handler.
type exampleHost struct {
	sim    *simulate.Simulator
	wechat *fakewechat.Server
	logs   *logBuffer
}

// startExampleHost serves the example dir with settings. The names
// llm.test and weather.test resolve to 127.0.0.1, where the fake upstreams
// listen, and http_allow names them.
func startExampleHost(t *testing.T, dir string, settings map[string]any) *exampleHost {
	t.Helper()
	wx := fakewechat.New("wxexample", "secret")
	t.Cleanup(wx.Close)
	quiet := slog.New(slog.DiscardHandler)
	api, err := client.New(client.Options{AppID: "wxexample", AppSecret: "secret", APIBase: wx.URL, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	local := func(ctx context.Context, name string) ([]netip.Addr, error) {
		if name == "llm.test" || name == "weather.test" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	st := memory.New(memory.Options{})
	rt, logs := startRuntime(t, nil, Options{
		Dir:          dir,
		Settings:     settings,
		HTTPAllow:    []string{"llm.test", "weather.test"},
		HTTPResolver: local,
		Client:       api,
		Values:       st,
	})
	h, err := host.New(host.Options{Token: "tok", AppID: "wxexample", Dispatcher: rt, Sessions: st, Sender: api.SendReply, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close(context.Background())
	})
	sim, err := simulate.New(simulate.Options{URL: srv.URL + "/", Token: "tok", AppID: "wxexample"})
	if err != nil {
		t.Fatal(err)
	}
	return &exampleHost{sim: sim, wechat: wx, logs: logs}
}

// send delivers a message of spec and returns the text of the passive
// reply, or "success".
func (e *exampleHost) send(t *testing.T, spec simulate.Spec) string {
	t.Helper()
	m, err := simulate.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := message.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d := e.sim.Deliver(context.Background(), raw)
	if d.Err != nil || d.Status != 200 {
		t.Fatalf("%s %q: %d %v %s", spec.Type, spec.Text, d.Status, d.Err, d.Body)
	}
	if strings.TrimSpace(string(d.Body)) == "success" {
		return "success"
	}
	var reply struct{ MsgType, Content string }
	if err := xml.Unmarshal(d.Body, &reply); err != nil || reply.MsgType != "text" {
		t.Fatalf("%q answered %s (%v)", spec.Text, d.Body, err)
	}
	return reply.Content
}

func (e *exampleHost) text(t *testing.T, user, content string) string {
	t.Helper()
	return e.send(t, simulate.Spec{Type: "text", From: user, Text: content})
}

// fakeLLM is an OpenAI-compatible chat-completions endpoint. It answers
// "回答：<last message>（已知 N 条消息）"; "慢" waits for slow to close, "坏"
// fails as an overloaded model does.
type fakeLLM struct {
	srv  *httptest.Server
	slow chan struct{}

	mu       sync.Mutex
	requests []chatRequest
}

type chatRequest struct {
	Auth     string
	Path     string
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

func newFakeLLM(t *testing.T) *fakeLLM {
	f := &fakeLLM{slow: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req chatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
			http.Error(w, `{"error": {"message": "bad request"}}`, http.StatusBadRequest)
			return
		}
		req.Auth, req.Path = r.Header.Get("Authorization"), r.URL.Path
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		last := req.Messages[len(req.Messages)-1].Content
		switch last {
		case "慢":
			select {
			case <-f.slow:
			case <-r.Context().Done():
				return
			}
		case "坏":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error": {"message": "model overloaded", "type": "server_error"}}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": fmt.Sprintf("回答：%s（已知 %d 条消息）", last, len(req.Messages))}}},
		})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// baseURL is the endpoint as the example's base_url setting.
func (f *fakeLLM) baseURL() string {
	_, port, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	return "http://llm.test:" + port + "/v1"
}

func (f *fakeLLM) last() chatRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func TestExampleLLMChat(t *testing.T) {
	llm := newFakeLLM(t)
	e := startExampleHost(t, "../examples/llm_chat", map[string]any{
		"api_key": "sk-test-secret", "base_url": llm.baseURL(), "model": "test-model",
	})
	if got := e.text(t, "oAlice", "你好"); got != "回答：你好（已知 2 条消息）" {
		t.Errorf("first message: %q", got)
	}
	req := llm.last()
	if req.Auth != "Bearer sk-test-secret" || req.Path != "/v1/chat/completions" || req.Model != "test-model" ||
		req.Messages[0].Role != "system" || req.Messages[1].Role != "user" || req.Messages[1].Content != "你好" {
		t.Errorf("request: %+v", req)
	}

	// The history goes with the next question, per user.
	if got := e.text(t, "oAlice", "我叫什么？"); got != "回答：我叫什么？（已知 4 条消息）" {
		t.Errorf("second message: %q", got)
	}
	if m := llm.last().Messages; m[2].Role != "assistant" || m[2].Content != "回答：你好（已知 2 条消息）" || m[3].Content != "我叫什么？" {
		t.Errorf("history sent: %+v", m)
	}
	if got := e.text(t, "oBob", "你好"); got != "回答：你好（已知 2 条消息）" {
		t.Errorf("another user: %q", got)
	}

	// It keeps ten messages.
	for i := 0; i < 6; i++ {
		e.text(t, "oAlice", fmt.Sprint("问题", i))
	}
	if n := len(llm.last().Messages); n != 12 {
		t.Errorf("after many messages the model got %d messages, want 12 (system, 10 of history, the question)", n)
	}

	if got := e.text(t, "oAlice", "重新开始"); got != "好的，我们重新开始吧。" {
		t.Errorf("reset: %q", got)
	}
	if got := e.text(t, "oAlice", "你好"); got != "回答：你好（已知 2 条消息）" {
		t.Errorf("after reset: %q", got)
	}

	// A failing model: an apology for the user, the reason in the log,
	// and the key nowhere.
	if got := e.text(t, "oAlice", "坏"); got != "抱歉，AI 暂时没有回应，请稍后再试。" {
		t.Errorf("failing model: %q", got)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "model overloaded") || !strings.Contains(logs, "status=503") || strings.Contains(logs, "sk-test-secret") {
		t.Errorf("log:\n%s", logs)
	}

	if got := e.send(t, simulate.Spec{Type: "image", From: "oAlice"}); got != "我现在只看得懂文字哦。" {
		t.Errorf("image: %q", got)
	}

	// A slow model: WeChat is answered "success" at reply_timeout, and
	// the answer reaches the user through the customer-service API.
	if got := e.text(t, "oCarol", "慢"); got != "success" {
		t.Errorf("slow model: the delivery was answered %q", got)
	}
	close(llm.slow)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs, err := e.wechat.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].ToUser != "oCarol" || msgs[0].MsgType != "text" || fmt.Sprint(msgs[0].Body["text"]) != "map[content:回答：慢（已知 2 条消息）]" {
		t.Errorf("customer-service message: %+v", msgs[0])
	}
	// The late answer joined the history like any other (the session is
	// saved before a reply leaves).
	if got := e.text(t, "oCarol", "然后呢？"); got != "回答：然后呢？（已知 4 条消息）" {
		t.Errorf("after the slow answer: %q", got)
	}
}

func TestExampleLLMChatNotConfigured(t *testing.T) {
	e := startExampleHost(t, "../examples/llm_chat", nil)
	if got := e.text(t, "oAlice", "你好"); got != "这个机器人还没有配置 AI 接口（api_key）。" {
		t.Errorf("no api_key: %q", got)
	}
}

// wttrAnswer is the part of wttr.in's format=j1 answer the example reads.
const wttrAnswer = `{"current_condition": [{"FeelsLikeC": "27", "humidity": "40", "temp_C": "25", "windspeedKmph": "11",
  "weatherDesc": [{"value": "Sunny"}], "lang_zh": [{"value": "晴"}]}], "nearest_area": []}`

func TestExampleWeather(t *testing.T) {
	var hits atomic.Int64
	var badQuery atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if q := r.URL.RawQuery; q != "format=j1&lang=zh" {
			badQuery.Store(q)
		}
		switch r.URL.Path {
		case "/北京":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, wttrAnswer)
		case "/New+York":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, strings.Replace(wttrAnswer, `, "lang_zh": [{"value": "晴"}]`, "", 1))
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "Unknown location; please try ~"+r.URL.Path)
		}
	}))
	defer up.Close()
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	e := startExampleHost(t, "../examples/weather", map[string]any{"weather_url": "http://weather.test:" + port})

	cases := []struct{ ask, want string }{
		{"天气 北京", "北京：晴，25°C（体感 27°C），湿度 40%，风速 11 km/h"},
		{"天气 北京", "北京：晴，25°C（体感 27°C），湿度 40%，风速 11 km/h"}, // from the cache
		{"天气北京", "北京：晴，25°C（体感 27°C），湿度 40%，风速 11 km/h"},
		{"天气 New York", "New York：Sunny，25°C（体感 27°C），湿度 40%，风速 11 km/h"},
		{"天气", "想查哪里的天气？例如：天气 北京"},
		{"天气 火星", "没有找到「火星」的天气。"},
	}
	for _, c := range cases {
		if got := e.text(t, "oUser", c.ask); got != c.want {
			t.Errorf("%q: %q, want %q", c.ask, got, c.want)
		}
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("the weather service was asked %d times, want 3 (北京 once, New York, 火星)", n)
	}
	if q := badQuery.Load(); q != nil {
		t.Errorf("query sent: %q", q)
	}

	// The service down: the user is told, the log says why.
	up.Close()
	if got := e.text(t, "oUser", "天气 上海"); got != "天气服务暂时不可用，请稍后再试。" {
		t.Errorf("service down: %q", got)
	}
	if !strings.Contains(e.logs.String(), "GET http://weather.test:"+port+"/%E4%B8%8A%E6%B5%B7: dial tcp: connection refused") {
		t.Errorf("log:\n%s", e.logs)
	}
}
