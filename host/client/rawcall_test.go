package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/luarobot/luarobot/host/client"
)

// TestGetAndPost: WeRoBot's Client.get and Client.post reach any endpoint
// under api_base with the access token, by path or by URL.
func TestGetAndPost(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	res, err := e.c.Invoke(ctx, "get", "/cgi-bin/user/info", map[string]any{"openid": "o1", "lang": "en", "ids": []any{"a", int64(2)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.(map[string]any)["openid"] != "o1" {
		t.Errorf("get answer %v", res)
	}
	call, _ := e.wx.LastCall("/cgi-bin/user/info")
	if call.Method != "GET" || call.AccessToken != e.wx.AccessToken() || call.Query.Get("lang") != "en" ||
		strings.Join(call.Query["ids"], ",") != "a,2" {
		t.Errorf("get sent %s %v", call.Method, call.Query)
	}

	// A URL on api_base, its query kept and params added; a URL on WeChat's
	// own host goes to api_base (so scripts written for WeChat run against
	// a fake); the scheme and host are matched without regard to case.
	u, _ := url.Parse(e.wx.URL)
	for _, target := range []string{
		e.wx.URL + "/cgi-bin/user/info?openid=o2",
		"https://api.weixin.qq.com/cgi-bin/user/info?openid=o2",
		"HTTP://" + strings.ToUpper(u.Hostname()) + ":" + u.Port() + "/cgi-bin/user/info?openid=o2",
	} {
		e.wx.Reset()
		if _, err := e.c.Invoke(ctx, "get", target, map[string]any{"lang": "zh_CN"}); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		call, ok := e.wx.LastCall("/cgi-bin/user/info")
		if !ok || call.Query.Get("openid") != "o2" || call.Query.Get("lang") != "zh_CN" {
			t.Errorf("%s: sent %v", target, call.Query)
		}
	}
	// A caller's access_token does not replace the account's.
	e.wx.Reset()
	if _, err := e.c.Invoke(ctx, "get", "/cgi-bin/menu/get?access_token=forged"); err != nil {
		t.Fatal(err)
	}
	if call, _ := e.wx.LastCall("/cgi-bin/menu/get"); call.AccessToken != e.wx.AccessToken() || len(call.Query["access_token"]) != 1 {
		t.Errorf("access_token = %q", call.Query["access_token"])
	}

	// post: a table is the JSON body, a string is sent as it is, nothing is {}.
	if _, err := e.c.Invoke(ctx, "post", "/cgi-bin/menu/create", map[string]any{"button": []any{map[string]any{"type": "click", "name": "今日", "key": "K"}}}); err != nil {
		t.Fatal(err)
	}
	if call, _ := e.wx.LastCall("/cgi-bin/menu/create"); string(call.RawBody) != `{"button":[{"key":"K","name":"今日","type":"click"}]}` {
		t.Errorf("post table body %s", call.RawBody)
	}
	if _, err := e.c.Invoke(ctx, "post", e.wx.URL+"/cgi-bin/message/mass/speed/set", `{"speed":2}`); err != nil {
		t.Fatal(err)
	}
	if call, _ := e.wx.LastCall("/cgi-bin/message/mass/speed/set"); string(call.RawBody) != `{"speed":2}` {
		t.Errorf("post string body %s", call.RawBody)
	}
	if _, err := e.c.Invoke(ctx, "post", "/cgi-bin/message/mass/speed/get"); err != nil {
		t.Fatal(err)
	}
	if call, _ := e.wx.LastCall("/cgi-bin/message/mass/speed/get"); string(call.RawBody) != `{}` {
		t.Errorf("post without data: body %s", call.RawBody)
	}

	// WeChat's errors and the token retry work as for every method.
	e.wx.FailOnce("/cgi-bin/menu/get", 42001)
	if _, err := e.c.Invoke(ctx, "get", "/cgi-bin/menu/get"); err != nil {
		t.Errorf("retry after 42001: %v", err)
	}
	_, err = e.c.Invoke(ctx, "get", "/cgi-bin/menu/create")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 43002 || apiErr.Method != "get /cgi-bin/menu/create" {
		t.Errorf("GET on a POST endpoint: %v", err)
	}
}

// TestPostUpload: post with files sends a multipart form, files read from
// media_dir only, data as the other fields.
func TestPostUpload(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	data := []byte("\xff\xd8 picture")
	writeMedia(t, e.opts.MediaDir, "pics/cat.jpg", data)
	res, err := e.c.Invoke(ctx, "post", "/cgi-bin/material/add_material?type=video",
		map[string]any{"description": map[string]any{"title": "标题", "introduction": "简介"}, "note": "plain"},
		map[string]any{"media": "pics/cat.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := res.(map[string]any)["media_id"].(string); !strings.HasPrefix(id, "MATERIAL_ID_") {
		t.Errorf("answer %v", res)
	}
	call, _ := e.wx.LastCall("/cgi-bin/material/add_material")
	f := call.Files["media"]
	if call.Query.Get("type") != "video" || f.Name != "cat.jpg" || !bytes.Equal(f.Data, data) || f.ContentType != "image/jpeg" {
		t.Errorf("upload: query %v, part %q %q %q", call.Query, f.Name, f.ContentType, f.Data)
	}
	if got := call.Form.Get("description"); got != `{"introduction":"简介","title":"标题"}` {
		t.Errorf("description field %q", got)
	}
	if got := call.Form.Get("note"); got != "plain" {
		t.Errorf("note field %q", got)
	}

	for _, c := range []struct {
		name  string
		data  any
		files map[string]any
		want  string
	}{
		{"outside media_dir", nil, map[string]any{"media": "../secret.jpg"}, "media_dir"},
		{"absolute path", nil, map[string]any{"media": "/etc/passwd"}, "media_dir"},
		{"missing file", nil, map[string]any{"media": "nope.jpg"}, "nope.jpg"},
		{"not a path", nil, map[string]any{"media": true}, "must be a path inside media_dir"},
		{"string data with files", "{}", map[string]any{"media": "pics/cat.jpg"}, "data is a table of form fields"},
	} {
		e.wx.Reset()
		_, err := e.c.Invoke(ctx, "post", "/cgi-bin/media/upload?type=image", c.data, c.files)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
		if calls := e.wx.CallsTo("/cgi-bin/media/upload"); len(calls) != 0 {
			t.Errorf("%s: the upload was sent", c.name)
		}
	}
}

// TestGetPostNeverSendTheTokenElsewhere: every way to name another host
// (or to climb out of api_base's path) is refused before anything is sent;
// the other host sees no request and the fake WeChat no call.
func TestGetPostNeverSendTheTokenElsewhere(t *testing.T) {
	var stolen atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.Write([]byte(`{"errcode":0}`))
	}))
	defer evil.Close()
	// api_base with a path: the fake WeChat behind a proxy at /base.
	var base *httptest.Server
	e := newEnv(t, func(o *client.Options) {
		wx, _ := url.Parse(o.APIBase)
		base = httptest.NewServer(http.StripPrefix("/base", httputil.NewSingleHostReverseProxy(wx)))
		o.APIBase = base.URL + "/base"
	})
	defer base.Close()
	fake, _ := url.Parse(base.URL)
	bad, _ := url.Parse(evil.URL)
	ctx := context.Background()

	for _, target := range []string{
		evil.URL + "/cgi-bin/menu/get",
		"//" + bad.Host + "/cgi-bin/menu/get",
		"///" + bad.Host + "/cgi-bin/menu/get",
		"http://" + fake.Host + "@" + bad.Host + "/base/cgi-bin/menu/get",
		"http://user:pass@" + fake.Host + "/base/cgi-bin/menu/get",
		"http://" + fake.Host + "%40" + bad.Host + "/base/x",
		"http://" + bad.Host + "#@" + fake.Host + "/base/x",
		"http://" + bad.Host + "?@" + fake.Host + "/base/x",
		"http://" + fake.Hostname() + ":1/base/cgi-bin/menu/get",
		"https://" + fake.Host + "/base/cgi-bin/menu/get",
		"ftp://" + fake.Host + "/base/x",
		"http://" + fake.Host + "/cgi-bin/menu/get",
		"http://" + fake.Host + "/basement/cgi-bin/menu/get",
		"http://" + fake.Host + "/base/../cgi-bin/menu/get",
		"http://" + fake.Host + "/base/%2e%2e/cgi-bin/menu/get",
		"http://" + fake.Host + "/base/%2E%2e/%2e%2E/x",
		"/../x",
		"/cgi-bin/./menu/get",
		"/cgi-bin/%2e%2e%2f%2e%2e%2fx",
		"/cgi-bin%2f..%2fx",
		"/cgi-bin/menu/get#frag",
		"\\\\" + bad.Host + "\\x",
		"/\\" + bad.Host + "/x",
		"http:\\\\" + bad.Host + "\\x",
		"http://" + fake.Host + "\\@" + bad.Host + "/x",
		"http://" + bad.Host + "\t/x",
		" /cgi-bin/menu/get",
		"cgi-bin/menu/get",
		bad.Host + "/cgi-bin/menu/get",
		"https://api.weixin.qq.com.evil.example/cgi-bin/menu/get",
		"https://api.weixin.qq.com:8443/cgi-bin/menu/get",
		"https://evil.example/https://api.weixin.qq.com/cgi-bin/menu/get",
		"javascript:alert(1)",
		"mailto:a@b",
		"http:/" + bad.Host + "/x",
		"http:" + bad.Host + "/x",
		"",
	} {
		for _, method := range []string{"get", "post"} {
			_, err := e.c.Invoke(ctx, method, target)
			var argErr *client.ArgError
			if !errors.As(err, &argErr) || !strings.Contains(err.Error(), "the access token goes to api_base") {
				t.Errorf("%s(%q): %v, want it refused", method, target, err)
			}
		}
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
	if calls := e.wx.Calls(); len(calls) != 0 {
		t.Errorf("refused calls reached WeChat: %v", calls)
	}

	// Under the right base they go through.
	for _, target := range []string{"/cgi-bin/menu/get", base.URL + "/base/cgi-bin/menu/get", "https://api.weixin.qq.com/cgi-bin/menu/get"} {
		e.wx.Reset()
		if _, err := e.c.Invoke(ctx, "get", target); err != nil {
			t.Errorf("get(%q): %v", target, err)
		}
		if calls := e.wx.CallsTo("/cgi-bin/menu/get"); len(calls) != 1 {
			t.Errorf("get(%q) called %v", target, e.wx.Calls())
		}
	}
}

// TestPostUploadFieldNames: a files field name goes into the part's
// Content-Disposition header; one that would break out of its quotes or
// its header line is refused before anything is sent.
func TestPostUploadFieldNames(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	writeMedia(t, e.opts.MediaDir, "cat.jpg", []byte("\xff\xd8 picture"))
	for _, field := range []string{"media\"; filename=\"x.php", "media\r\nContent-Type: text/html", "a\\", ""} {
		e.wx.Reset()
		_, err := e.c.Invoke(ctx, "post", "/cgi-bin/media/upload?type=image", nil, map[string]any{field: "cat.jpg"})
		var argErr *client.ArgError
		if !errors.As(err, &argErr) || !strings.Contains(err.Error(), "field name") {
			t.Errorf("files field %q: %v, want it refused", field, err)
		}
		if calls := e.wx.CallsTo("/cgi-bin/media/upload"); len(calls) != 0 {
			t.Errorf("files field %q: the upload was sent", field)
		}
	}
}
