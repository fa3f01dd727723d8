package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/luaapi"
)

// TestEveryFormThroughTheHost sends signed (and, in the second round,
// encrypted) requests through the whole host to testdata/forms and checks
// the reply of every registration form and every return form.
func TestEveryFormThroughTheHost(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	rt, err := luaapi.New(luaapi.Options{Dir: "testdata/forms", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()

	type tc struct {
		spec simulate.Spec
		want []string // lines Describe prints
	}
	text := func(s string) simulate.Spec { return simulate.Spec{Type: "text", Text: s} }
	cases := []tc{
		{text("string"), []string{"text reply", "a plain string"}},
		{text("reply.text"), []string{"text reply", "a text reply"}},
		{text("reply.image"), []string{"image reply", "media_id: img_media"}},
		{text("reply.voice"), []string{"voice reply", "media_id: voice_media"}},
		{text("reply.video"), []string{"video reply", "media_id: video_media", "title: 标题", "description: 描述"}},
		{text("reply.music"), []string{"music reply", "title: 歌", "url: http://x/a.mp3", "hq_url: http://x/hq.mp3"}},
		{text("reply.articles"), []string{"news reply", "[1] 第一", "img: http://x/1.png", "url: http://x/1", "[2] 第二"}},
		{text("reply.transfer"), []string{"transfer_customer_service reply", "account: kf2001@gh_test"}},
		{text("reply.transfer_any"), []string{"transfer_customer_service reply", "any available agent"}},
		{text("reply.success"), []string{"success"}},
		{text("list articles"), []string{"news reply", "[1] t1", "url: http://x/1", "[2] t2", "img: http://x/2.png"}},
		{text("list music3"), []string{"music reply", "title: 微信你不懂爱", "url: http://weixin.com/budongai.mp3", "hq_url: http://weixin.com/budongai.mp3"}},
		{text("list music4"), []string{"music reply", "url: music_url", "hq_url: hq_music_url"}},
		{text("帮助"), []string{"filter: help"}},
		{text("help"), []string{"filter: help"}},
		{text("roll 2d6"), []string{"filter: roll 2d6 / 2 dice of 6"}},
		{text("hi"), []string{"add_filter: hi"}},
		{text("hey you"), []string{"add_filter: hi"}},
		{text("add_handler"), []string{"add_handler: text"}},
		{text("nothing matches"), []string{"fallback for text"}},
		{simulate.Spec{Type: "image"}, []string{"image https://mmbiz.qpic.cn/simulated.jpg simulated_media_id"}},
		{simulate.Spec{Type: "voice"}, []string{"voice simulated_media_id amr"}},
		{simulate.Spec{Type: "video"}, []string{"video simulated_media_id simulated_thumb_id"}},
		{simulate.Spec{Type: "shortvideo"}, []string{"shortvideo simulated_media_id"}},
		{simulate.Spec{Type: "location"}, []string{"location 广州市海珠区 23.134521,113.358803 20"}},
		{simulate.Spec{Type: "link"}, []string{"link LuaRoBot https://example.com/"}},
		{simulate.Spec{Type: "unknown"}, []string{"unknown message"}},
		{simulate.Spec{Type: "miniprogrampage"}, []string{"miniprogrampage a mini program card wx_simulated pages/index/index"}},
		// The device's content travels as base64 and arrives decoded.
		{simulate.Spec{Type: "device_text", Fields: map[string]string{"content": "温度 21℃"}}, []string{"device_text simulated_device: 温度 21℃"}},
		{simulate.Spec{Type: "device_event", Fields: map[string]string{"event": "unbind"}}, []string{"device_event unbind simulated_device: bound"}},
		{text("empty"), []string{"success"}},
		{simulate.Spec{Type: "click", Key: "music"}, []string{"key_click music"}},
		{simulate.Spec{Type: "click", Key: "other"}, []string{"event click -> click_event"}},
	}
	// Every event type reaches its own registration.
	for _, typ := range message.Types() {
		if !strings.HasSuffix(typ, "_event") || typ == "click_event" || typ == "device_event" {
			continue
		}
		name := strings.TrimSuffix(typ, "_event")
		switch typ {
		case "location_event", "templatesendjobfinish_event", "unknown_event":
			name = typ
		}
		cases = append(cases, tc{simulate.Spec{Type: typ}, []string{"event " + name + " -> " + typ}})
	}

	for _, aes := range []bool{false, true} {
		opts := host.Options{Token: "tok", AppID: "wxforms", Dispatcher: rt, Logger: log, ReplyTimeout: testReplyTimeout}
		simOpts := simulate.Options{Token: "tok", AppID: "wxforms", Timeout: testSimTimeout}
		if aes {
			opts.EncodingAESKey = e2eAESKey
			simOpts.EncodingAESKey = e2eAESKey
		}
		h, err := host.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		simOpts.URL = srv.URL + "/"
		sim, err := simulate.New(simOpts)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			m, err := simulate.Build(c.spec)
			if err != nil {
				t.Fatalf("%+v: %v", c.spec, err)
			}
			raw, err := message.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			d := sim.Deliver(context.Background(), raw)
			if d.Err != nil || d.Status != 200 {
				t.Errorf("aes=%v %s %q: %d %v", aes, m.Type, c.spec.Text, d.Status, d.Err)
				continue
			}
			got := simulate.Describe(d.Body)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("aes=%v %s %q answered:\n%s\nwant %q", aes, m.Type, c.spec.Text+c.spec.Key, got, w)
					break
				}
			}
		}

		// robot.error_page answers a request that is not from WeChat.
		resp, err := http.Get(srv.URL + "/?" + url.Values{"signature": {"bad"}, "timestamp": {"1"}, "nonce": {"1"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.HasPrefix(string(page), "<h1>not WeChat</h1><p>"+srv.URL+"/?") {
			t.Errorf("error page: %d %s", resp.StatusCode, page)
		}
		srv.Close()
		h.Close(context.Background())
	}
}
