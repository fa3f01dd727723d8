package simulate_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/host/simulate"
)

// TestBuildEveryType: the simulator can make every type the parser knows,
// and the host reads back what it made.
func TestBuildEveryType(t *testing.T) {
	for _, typ := range message.Types() {
		t.Run(typ, func(t *testing.T) {
			m, err := simulate.Build(simulate.Spec{Type: typ, From: "u1"})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := message.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := message.Parse(raw)
			if err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			if back.Type != typ || back.Source != "u1" {
				t.Errorf("built a %s from %s, want a %s from u1", back.Type, back.Source, typ)
			}
		})
	}
}

func TestBuildSpecs(t *testing.T) {
	tests := []struct {
		spec simulate.Spec
		want map[string]any
		err  string
	}{
		{spec: simulate.Spec{Type: "text", Text: "你好"}, want: map[string]any{"content": "你好"}},
		{spec: simulate.Spec{Type: "click", Key: "music"}, want: map[string]any{"key": "music"}},
		{spec: simulate.Spec{Type: "click", Text: "music"}, want: map[string]any{"key": "music"}},
		{spec: simulate.Spec{Type: "location", Fields: map[string]string{"label": "天安门", "scale": "15"}}, want: map[string]any{"label": "天安门", "scale": int64(15)}},
		{spec: simulate.Spec{Type: "pic_weixin", Fields: map[string]string{"pic_list": "a,b", "count": "2"}}, want: map[string]any{"count": int64(2)}},
		{spec: simulate.Spec{Type: "nope"}, err: `unknown message type "nope"`},
		{spec: simulate.Spec{Type: "image", Text: "x"}, err: "a image has no text"},
		{spec: simulate.Spec{Type: "text", Key: "k"}, err: "--key: a text has no key"},
		{spec: simulate.Spec{Type: "click", MsgID: "1"}, err: "has no message id"},
		{spec: simulate.Spec{Type: "text", Fields: map[string]string{"img": "x"}}, err: "--field img: a text has no such field"},
		{spec: simulate.Spec{Type: "kf_create_session", Fields: map[string]string{"kf_account": "kf1@gh"}}, want: map[string]any{"kf_account": "kf1@gh"}},
		{spec: simulate.Spec{Type: "device_event", Fields: map[string]string{"event": "unbind"}}, want: map[string]any{"event": "unbind"}},
		{spec: simulate.Spec{Type: "subscribe_msg_popup", Fields: map[string]string{"subscribes": `{"template_id": "t"}`}}, err: "want []map[string]any"},
		{spec: simulate.Spec{Type: "subscribe_msg_popup", Fields: map[string]string{"subscribes": `[1]`}}, err: "--field subscribes: item 1 is not an object"},
		{spec: simulate.Spec{Type: "subscribe_msg_popup", Fields: map[string]string{"subscribes": `[{"template_id": true}]`}}, err: "a boolean"},
		{spec: simulate.Spec{Type: "subscribe_msg_popup", Fields: map[string]string{"subscribes": `[{`}}, err: "not JSON"},
	}
	for _, tt := range tests {
		m, err := simulate.Build(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Build(%+v) error = %v, want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Build(%+v): %v", tt.spec, err)
			continue
		}
		for name, want := range tt.want {
			if got, _ := m.Get(name); got != want {
				t.Errorf("Build(%+v).%s = %#v, want %#v", tt.spec, name, got, want)
			}
		}
	}
}

// TestBuildListsAndBlocks: --field takes JSON for the list and block
// fields, and the host reads back what was built.
func TestBuildListsAndBlocks(t *testing.T) {
	m, err := simulate.Build(simulate.Spec{Type: "shakearoundusershake", Fields: map[string]string{
		"chosen_beacon":  `{"uuid": "u1", "major": 1, "minor": 2, "distance": 0.5}`,
		"around_beacons": `[{"uuid": "u2", "distance": 3}, {"uuid": "u3"}]`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := message.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := message.Parse(raw)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	chosen, _ := back.Get("chosen_beacon")
	around, _ := back.Get("around_beacons")
	if c := chosen.(map[string]any); c["uuid"] != "u1" || c["major"] != int64(1) || c["distance"] != 0.5 {
		t.Errorf("chosen_beacon = %#v", chosen)
	}
	if a := around.([]map[string]any); len(a) != 2 || a[0]["distance"] != 3.0 || a[1]["uuid"] != "u3" {
		t.Errorf("around_beacons = %#v", around)
	}
}

func TestDescribe(t *testing.T) {
	render := func(r reply.Reply) []byte { return reply.Render(nil, r, "u1", "gh", 1) }
	tests := []struct {
		body []byte
		want []string
	}{
		{[]byte("success"), []string{"success"}},
		{render(&reply.Text{Content: "line1\nline2"}), []string{"text reply to u1", "  line1", "  line2"}},
		{render(&reply.Image{MediaID: "m1"}), []string{"image reply", "media_id: m1"}},
		{render(&reply.Music{Title: "歌", URL: "http://x/a.mp3"}), []string{"music reply", "title: 歌", "hq_url: http://x/a.mp3"}},
		{render(&reply.Articles{Articles: []reply.Article{{Title: "A", URL: "http://a"}, {Title: "B"}}}), []string{"news reply", "[1] A", "url: http://a", "[2] B"}},
		{render(&reply.TransferCustomerService{}), []string{"transfer_customer_service", "any available agent"}},
		{[]byte("<html>"), []string{"unreadable answer"}},
	}
	for _, tt := range tests {
		got := simulate.Describe(tt.body)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("Describe(%s) = %q, want it to contain %q", tt.body, got, w)
			}
		}
	}
}

type echo struct{ runs atomic.Int64 }

func (e *echo) Dispatch(ctx context.Context, m *message.Message, session []byte) (reply.Reply, []byte, error) {
	e.runs.Add(1)
	time.Sleep(50 * time.Millisecond)
	return &reply.Text{Content: m.Type + ":" + m.String("content") + m.EventKey}, nil, nil
}

// TestSendAgainstHost: plain and AES, a text and a click, with retries
// that the host answers from one handler run.
func TestSendAgainstHost(t *testing.T) {
	const aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	for _, aes := range []bool{false, true} {
		d := &echo{}
		opts := host.Options{Token: "tok", AppID: "wxapp", Dispatcher: d}
		simOpts := simulate.Options{Token: "tok", AppID: "wxapp"}
		if aes {
			opts.EncodingAESKey, simOpts.EncodingAESKey = aesKey, aesKey
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
		for _, spec := range []simulate.Spec{{Type: "text", Text: "hi"}, {Type: "click", Key: "music"}} {
			m, err := simulate.Build(spec)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := message.Marshal(m)
			before := d.runs.Load()
			ds := sim.Send(context.Background(), raw, 2, 10*time.Millisecond)
			for _, del := range ds {
				if del.Err != nil || del.Status != 200 {
					t.Fatalf("aes=%v %s attempt %d: %d %v", aes, spec.Type, del.Attempt, del.Status, del.Err)
				}
				want := "text:hi"
				if spec.Type == "click" {
					want = "click_event:music"
				}
				if got := simulate.Describe(del.Body); !strings.Contains(got, want) {
					t.Errorf("aes=%v attempt %d: %s, want %q", aes, del.Attempt, got, want)
				}
			}
			if runs := d.runs.Load() - before; runs != 1 {
				t.Errorf("aes=%v %s: three deliveries ran the handler %d times", aes, spec.Type, runs)
			}
		}
		srv.Close()
		h.Close(context.Background())
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := simulate.New(simulate.Options{URL: "http://x/"}); err == nil {
		t.Error("no token accepted")
	}
	if _, err := simulate.New(simulate.Options{URL: "ftp://x", Token: "t"}); err == nil {
		t.Error("ftp URL accepted")
	}
}
