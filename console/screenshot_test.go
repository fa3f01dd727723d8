package console_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestScreenshots writes the screenshots of README's Console section:
// every panel at desktop width (English) and phone width (Chinese).
// It runs only when asked:
//
//	LUAROBOT_SCREENSHOTS=../docs/console go test -run TestScreenshots ./console
func TestScreenshots(t *testing.T) {
	out := os.Getenv("LUAROBOT_SCREENSHOTS")
	if out == "" {
		t.Skip("set LUAROBOT_SCREENSHOTS to a folder to write the console's screenshots")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	pictures := pictureServer(t)
	for _, size := range []struct {
		name          string
		width, height int
		lang          string
		mobile        bool
	}{
		{"desktop", 1280, 860, "en-US", false},
		{"phone", 390, 800, "zh-CN", true},
	} {
		t.Run(size.name, func(t *testing.T) {
			e := newEnv(t, envOptions{watch: true, relative: true, edit: func(src string) string {
				return strings.NewReplacer("https://example.com/cover.jpg", pictures+"/cover.png",
					"https://example.com/thumb.jpg", pictures+"/thumb.png").Replace(src)
			}})
			ctx := browser(t, size.width, size.height, size.lang)
			var viewport []chromedp.EmulateViewportOption
			if size.mobile {
				viewport = append(viewport, chromedp.EmulateMobile)
			}
			run(t, ctx, "viewport", chromedp.EmulateViewport(int64(size.width), int64(size.height), viewport...))
			shot := func(panel string) {
				t.Helper()
				b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(out, panel+"-"+size.name+".png"), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			url := e.srv.URL + "/"
			run(t, ctx, "log in",
				chromedp.Navigate(url),
				chromedp.WaitVisible(chromedp.ID("token")),
				chromedp.SendKeys(chromedp.ID("token"), adminToken),
				chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
				chromedp.WaitVisible(chromedp.ID("app")),
			)
			send := func(text, want string) chromedp.Action[chromedp.Void] {
				return chromedp.Steps(
					chromedp.SendKeys(chromedp.ID("try-content"), text),
					chromedp.Click(chromedp.CSS("#try-text button")),
					waitText("#chat .msg.in", want))
			}
			run(t, ctx, "a conversation",
				chromedp.Navigate(url+"#try"),
				chromedp.WaitVisible(chromedp.ID("try-content")),
				send("count", "n=1"),
				chromedp.Click(chromedp.ID("try-subscribe")),
				waitText("#chat .msg.in", "感谢关注"),
				chromedp.SendKeys(chromedp.ID("try-key"), "news"),
				chromedp.Click(chromedp.CSS("#try-click button")),
				waitText("#chat .news", "Second article"),
				send("push", "pushed through"),
				send("下单", "请问怎么称呼？"),
				send("小明", "手机号？"),
				waitText("#try-dialog", "2"),
				// Pictures loaded before the shot, the article card in view.
				waitImages(),
				waitJS(`(document.querySelector("#chat .news").scrollIntoView({block: "start"}), true)`),
			)
			shot("try")

			// A host that has run a while and holds an access token.
			e.clock.Advance(3*time.Hour + 12*time.Minute)
			if _, err := e.api.AccessToken(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.log.Warn("wechat api error", "method", "send_text_message", "errcode", 45015, "hint", "the user has not talked to the account in the last 48 hours")
			run(t, ctx, "status", chromedp.Navigate(url+"#status"), waitJS(`document.querySelectorAll("#status-cards .card").length === 4`))
			shot("status")

			run(t, ctx, "a broken save",
				chromedp.Navigate(url+"#scripts"),
				waitText("#scripts-files", "key_click"),
				do(func() {
					src, _ := os.ReadFile(filepath.Join(e.dir, "bot.lua"))
					e.write("bot.lua", strings.Replace(string(src), `elseif c == "push" then`, `elseif c == "push" then`+"\n    robot.send(msg.source, \"oops\"", 1))
				}),
				waitText(".err-box.load .where", "bot.lua:"),
			)
			shot("scripts")

			run(t, ctx, "log", chromedp.Navigate(url+"#log"), waitText("#log-lines", "wechat api error"))
			shot("log")

			run(t, ctx, "a session",
				chromedp.Navigate(url+"#sessions"),
				chromedp.WaitVisible(chromedp.ID("session-openid")),
				chromedp.SendKeys(chromedp.ID("session-openid"), "console-me"),
				chromedp.Click(chromedp.CSS("#session-form button")),
				waitText("#session-result pre.json", `"name": "order"`),
			)
			shot("sessions")

			run(t, ctx, "log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("token")))
			shot("login")
		})
	}
}

// waitImages waits until every picture of the page has loaded.
func waitImages() chromedp.Action[chromedp.Void] {
	return waitJS(`Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)`)
}

// pictureServer serves the article pictures of the screenshots: drawn
// here, so the screenshots need no network.
func pictureServer(t *testing.T) string {
	draw := func(w, h int, from, to color.RGBA) []byte {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				f := float64(x+y) / float64(w+h)
				mix := func(a, b uint8) uint8 { return uint8(float64(a)*(1-f) + float64(b)*f) }
				img.Set(x, y, color.RGBA{mix(from.R, to.R), mix(from.G, to.G), mix(from.B, to.B), 255})
			}
		}
		var b bytes.Buffer
		png.Encode(&b, img)
		return b.Bytes()
	}
	cover := draw(560, 240, color.RGBA{7, 193, 96, 255}, color.RGBA{20, 60, 120, 255})
	thumb := draw(92, 92, color.RGBA{250, 180, 60, 255}, color.RGBA{200, 60, 80, 255})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "max-age=3600")
		if strings.HasSuffix(r.URL.Path, "thumb.png") {
			w.Write(thumb)
			return
		}
		w.Write(cover)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
