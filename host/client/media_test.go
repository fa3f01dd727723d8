package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/client"
)

func writeMedia(t *testing.T, dir, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUploadReadsFromMediaDir(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	data := []byte("\xff\xd8 picture bytes")
	writeMedia(t, e.opts.MediaDir, "pics/猫 (1).jpg", data)
	res, err := e.c.Invoke(ctx, "upload_media", "image", "pics/猫 (1).jpg")
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := res.(map[string]any)["media_id"].(string); !strings.HasPrefix(id, "MEDIA_ID_") {
		t.Errorf("result = %v", res)
	}
	call, _ := e.wx.LastCall("/cgi-bin/media/upload")
	f := call.Files["media"]
	if call.Query.Get("type") != "image" || !bytes.Equal(f.Data, data) {
		t.Fatalf("upload query %v, data %q", call.Query, f.Data)
	}
	// WeChat rejects RFC 2231 names (filename*=utf-8''...): the name must be
	// plain ASCII and keep its extension.
	if f.Name != "___1_.jpg" || strings.Contains(f.Disposition, "filename*") || f.ContentType != "image/jpeg" {
		t.Errorf("file part name %q, disposition %q, type %q", f.Name, f.Disposition, f.ContentType)
	}
	for _, r := range f.Disposition {
		if r > 127 {
			t.Fatalf("non-ASCII disposition: %q", f.Disposition)
		}
	}

	// A name with nothing ASCII left still keeps its extension.
	writeMedia(t, e.opts.MediaDir, "语音.amr", []byte("#!AMR"))
	if _, err := e.c.Invoke(ctx, "upload_permanent_media", "voice", "语音.amr"); err != nil {
		t.Fatal(err)
	}
	call, _ = e.wx.LastCall("/cgi-bin/material/add_material")
	if f := call.Files["media"]; f.Name != "media.amr" || f.ContentType != "audio/amr" {
		t.Errorf("file part %q %q", f.Name, f.ContentType)
	}

	// wechat-python-sdk's extension argument renames the upload.
	writeMedia(t, e.opts.MediaDir, "clip", []byte("ID3"))
	if _, err := e.c.Invoke(ctx, "upload_media", "voice", "clip", "mp3"); err != nil {
		t.Fatal(err)
	}
	call, _ = e.wx.LastCall("/cgi-bin/media/upload")
	if f := call.Files["media"]; f.Name != "clip.mp3" {
		t.Errorf("extension argument: name %q", f.Name)
	}
}

func TestUploadRetriesWithSameBody(t *testing.T) {
	e := newEnv(t)
	writeMedia(t, e.opts.MediaDir, "a.png", []byte("PNG DATA"))
	e.wx.FailOnce("/cgi-bin/media/uploadimg", 40001)
	if _, err := e.c.Invoke(context.Background(), "upload_news_picture", "a.png"); err != nil {
		t.Fatal(err)
	}
	calls := e.wx.CallsTo("/cgi-bin/media/uploadimg")
	if len(calls) != 2 || string(calls[1].Files["media"].Data) != "PNG DATA" {
		t.Fatalf("retry sent %d uploads; last %q", len(calls), calls[len(calls)-1].Files["media"].Data)
	}
}

func TestUploadPermanentVideo(t *testing.T) {
	e := newEnv(t)
	writeMedia(t, e.opts.MediaDir, "v.mp4", []byte("MP4"))
	if _, err := e.c.Invoke(context.Background(), "upload_permanent_video", "标题", "介绍 & more", "v.mp4"); err != nil {
		t.Fatal(err)
	}
	call, _ := e.wx.LastCall("/cgi-bin/material/add_material")
	if call.Query.Get("type") != "video" || call.Files["media"].Name != "v.mp4" {
		t.Fatalf("call %v %+v", call.Query, call.Files)
	}
	if got := call.Form.Get("description"); got != `{"introduction":"介绍 & more","title":"标题"}` {
		t.Errorf("description = %s", got)
	}
}

func TestUploadRefusesPathsOutsideMediaDir(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir()
	writeMedia(t, outside, "secret.txt", []byte("secret"))
	paths := []string{"../secret.txt", "/etc/passwd", filepath.Join(outside, "secret.txt"), "a/../../secret.txt"}
	if runtime.GOOS != "windows" {
		if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(e.opts.MediaDir, "link.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(e.opts.MediaDir, "dirlink")); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, "link.txt", "dirlink/secret.txt")
	}
	for _, p := range paths {
		_, err := e.c.Invoke(context.Background(), "upload_media", "image", p)
		if !errors.Is(err, client.ErrMediaPath) {
			t.Errorf("upload %q: err = %v, want ErrMediaPath", p, err)
			continue
		}
		if !strings.Contains(err.Error(), "upload_media") || !strings.Contains(err.Error(), "media_dir") {
			t.Errorf("upload %q: unclear error %q", p, err)
		}
	}
	if n := len(e.wx.CallsTo("/cgi-bin/media/upload")); n != 0 {
		t.Fatalf("%d uploads reached WeChat", n)
	}
	_, err := e.c.Invoke(context.Background(), "upload_media", "image", "missing.jpg")
	if err == nil || !strings.Contains(err.Error(), "missing.jpg") || errors.Is(err, client.ErrMediaPath) {
		t.Errorf("missing file: %v", err)
	}
}

func TestDownload(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.wx.AnswerMedia("/cgi-bin/media/get", "audio/amr", []byte("#!AMR voice"))
	res, err := e.c.Invoke(ctx, "download_media", "MID")
	if err != nil {
		t.Fatal(err)
	}
	m := res.(*client.Media)
	if string(m.Data) != "#!AMR voice" || m.ContentType != "audio/amr" || m.Path != "" {
		t.Fatalf("media = %+v", m)
	}
	call, _ := e.wx.LastCall("/cgi-bin/media/get")
	if call.Method != "GET" || call.Query.Get("media_id") != "MID" {
		t.Errorf("call %s %v", call.Method, call.Query)
	}

	// Saved into media_dir instead, folders created.
	res, err = e.c.Invoke(ctx, "download_media", "MID", "in/voice.amr")
	if err != nil {
		t.Fatal(err)
	}
	if m := res.(*client.Media); m.Path != "in/voice.amr" || m.Data != nil || m.ContentType != "audio/amr" {
		t.Fatalf("saved media = %+v", m)
	}
	got, err := os.ReadFile(filepath.Join(e.opts.MediaDir, "in", "voice.amr"))
	if err != nil || string(got) != "#!AMR voice" {
		t.Fatalf("saved file = %q, %v", got, err)
	}
	if _, err := e.c.Invoke(ctx, "download_media", "MID", "../x.amr"); !errors.Is(err, client.ErrMediaPath) {
		t.Errorf("save outside media_dir: %v", err)
	}

	// WeChat's errors come as JSON labelled text/plain, and a rejected
	// token is refreshed as for any call.
	e.wx.FailOnce("/cgi-bin/media/get", 40001)
	if _, err := e.c.Invoke(ctx, "download_media", "MID"); err != nil {
		t.Fatal(err)
	}
	e.wx.FailOnce("/cgi-bin/media/get", 40007)
	_, err = e.c.Invoke(ctx, "download_media", "MID")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 40007 {
		t.Fatalf("err = %v, want 40007", err)
	}

	// A JSON success (a permanent news item) comes back as JSON bytes.
	e.wx.Answer("/cgi-bin/material/get_material", map[string]any{"news_item": []any{map[string]any{"title": "T"}}})
	res, err = e.c.Invoke(ctx, "download_permanent_media", "NID")
	if err != nil {
		t.Fatal(err)
	}
	if m := res.(*client.Media); m.ContentType != "application/json" || !strings.Contains(string(m.Data), `"news_item"`) {
		t.Errorf("news download = %+v", m)
	}
}

func TestShowQRCodeUsesNoToken(t *testing.T) {
	e := newEnv(t)
	res, err := e.c.Invoke(context.Background(), "show_qrcode", "gQ+/=")
	if err != nil {
		t.Fatal(err)
	}
	if m := res.(*client.Media); m.ContentType != "image/jpeg" || len(m.Data) == 0 {
		t.Fatalf("qrcode = %+v", m)
	}
	call, _ := e.wx.LastCall("/cgi-bin/showqrcode")
	if call.Query.Get("ticket") != "gQ+/=" || call.AccessToken != "" {
		t.Errorf("showqrcode query = %v", call.Query)
	}
	if e.wx.TokenFetches() != 0 {
		t.Error("show_qrcode fetched an access token")
	}
}

// A download must never land in a folder of Options.ForbiddenDirs (the
// scripts folder, where a saved .lua file is code that hot reload runs),
// however media_dir overlaps it: media_dir above it, a symbolic link inside
// media_dir, media_dir inside it. Nothing is written or created there.
func TestDownloadRefusesForbiddenDirs(t *testing.T) {
	root := t.TempDir()
	scripts := filepath.Join(root, "scripts")
	writeMedia(t, scripts, "lib/util.lua", []byte("return {}"))
	e := newEnv(t, func(o *client.Options) {
		o.MediaDir = root
		o.ForbiddenDirs = []string{scripts}
	})
	ctx := context.Background()
	payload := []byte("os.exit(1)")
	e.wx.AnswerMedia("/cgi-bin/media/get", "application/octet-stream", payload)

	refused := []string{"scripts/lib/x.lua", "scripts/x.lua", "scripts/new/x.lua", "scripts", "./scripts/lib/util.lua", "scripts/lib/../y.lua"}
	if runtime.GOOS != "windows" {
		if err := os.Symlink(scripts, filepath.Join(root, "link")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(scripts, "dangling.lua"), filepath.Join(root, "dangling.lua")); err != nil {
			t.Fatal(err)
		}
		refused = append(refused, "link/lib/x.lua", "dangling.lua")
	}
	for _, p := range refused {
		_, err := e.c.Invoke(ctx, "download_media", "MID", p)
		if !errors.Is(err, client.ErrForbiddenDir) {
			t.Errorf("save %q: err = %v, want ErrForbiddenDir", p, err)
			continue
		}
		if !strings.Contains(err.Error(), "download_media") || !strings.Contains(err.Error(), scripts) {
			t.Errorf("save %q: unclear error %q", p, err)
		}
	}
	for _, p := range []string{"lib/x.lua", "x.lua", "new", "lib/util.lua", "dangling.lua", "y.lua"} {
		if p == "lib/util.lua" {
			if got, _ := os.ReadFile(filepath.Join(scripts, p)); !bytes.Equal(got, []byte("return {}")) {
				t.Errorf("scripts/%s was overwritten: %q", p, got)
			}
			continue
		}
		if _, err := os.Lstat(filepath.Join(scripts, p)); err == nil {
			t.Errorf("scripts/%s was created", p)
		}
	}

	// Next to the forbidden folder, saving works.
	for _, p := range []string{"scripts2/x.lua", "in/voice.amr"} {
		if _, err := e.c.Invoke(ctx, "download_media", "MID", p); err != nil {
			t.Errorf("save %q: %v", p, err)
		}
	}

	// media_dir inside the forbidden folder: nothing can be saved.
	e.opts.MediaDir = filepath.Join(scripts, "media")
	if _, err := e.restart(t).Invoke(ctx, "download_media", "MID", "a.jpg"); !errors.Is(err, client.ErrForbiddenDir) {
		t.Errorf("media_dir inside scripts: err = %v, want ErrForbiddenDir", err)
	}

	// Relative folders, as in a config with media_dir = "." and scripts =
	// "scripts", are taken from the working directory.
	t.Chdir(root)
	e.opts.MediaDir = "."
	e.opts.ForbiddenDirs = []string{"scripts"}
	if _, err := e.restart(t).Invoke(ctx, "download_media", "MID", "scripts/z.lua"); !errors.Is(err, client.ErrForbiddenDir) {
		t.Errorf("relative folders: err = %v, want ErrForbiddenDir", err)
	}
}

// With DownloadDir (luarobot test's folder per test), downloads are saved
// there and never over media_dir's files; uploads find them there first,
// and media_dir's other files as usual. A DownloadDir that does not exist
// yet hides nothing.
func TestDownloadDir(t *testing.T) {
	downloads := filepath.Join(t.TempDir(), "later")
	e := newEnv(t, func(o *client.Options) { o.DownloadDir = downloads })
	ctx := context.Background()
	writeMedia(t, e.opts.MediaDir, "logo.jpg", []byte("the real logo"))
	if _, err := e.c.Invoke(ctx, "upload_media", "image", "logo.jpg"); err != nil {
		t.Fatalf("an upload before any download: %v", err)
	}
	e.wx.AnswerMedia("/cgi-bin/media/get", "image/jpeg", []byte("downloaded"))
	if _, err := e.c.Invoke(ctx, "download_media", "MID", "logo.jpg"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(e.opts.MediaDir, "logo.jpg")); string(got) != "the real logo" {
		t.Errorf("media_dir's file is now %q", got)
	}
	if got, err := os.ReadFile(filepath.Join(downloads, "logo.jpg")); err != nil || string(got) != "downloaded" {
		t.Errorf("the download: %q, %v", got, err)
	}
	if _, err := e.c.Invoke(ctx, "upload_media", "image", "logo.jpg"); err != nil {
		t.Fatal(err)
	}
	if call, _ := e.wx.LastCall("/cgi-bin/media/upload"); string(call.Files["media"].Data) != "downloaded" {
		t.Errorf("the upload read %q, want the download", call.Files["media"].Data)
	}
	if _, err := e.c.Invoke(ctx, "download_media", "MID", "../x.jpg"); !errors.Is(err, client.ErrMediaPath) {
		t.Errorf("save outside the download folder: %v", err)
	}
}
