package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive the console in a real headless Chromium
// (Debian's chromium package). Without it they skip, unless CI is set:
// there they fail, so that a missing install step cannot pass unseen.

// chromium returns the browser's path, or skips (fails in CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI is set: .ci/run must install it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed: skipping the browser tests (apt-get install chromium to run them)")
	return ""
}

// browser starts a headless Chromium of its own (a fresh profile) sized
// width×height and speaking lang, and returns its context; it closes when
// the test ends.
func browser(t *testing.T, width, height int, lang string) context.Context {
	t.Helper()
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// The first call starts the browser, which lives as long as this
	// context: no timeout on it (steps have their own, see run).
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// stepTimeout bounds one step of a browser test: generous, the machine is
// shared.
const stepTimeout = 30 * time.Second

// run runs a step's actions, failing the test with the step's name.
func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v\n%s", step, err, pageState(ctx))
	}
}

// pageState describes the page for a failure message: its URL and text.
func pageState(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return "(page state unknown: " + err.Error() + ")"
	}
	return "page: " + state
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitText waits until the elements that sel selects hold want in their
// text (the step's timeout ends the wait).
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	expr := `Array.from(document.querySelectorAll(` + jsonOf(sel) + `)).map(e => e.textContent).join("\n")`
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			got, err := chromedp.Evaluate[string](expr)(ctx, tg)
			if err != nil {
				return err
			}
			if strings.Contains(got, want) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s to hold %q: %w; it holds %q", sel, want, ctx.Err(), got)
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// waitJS waits until a JavaScript expression is true.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tg)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// do runs Go code as a step.
func do(f func()) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(context.Context, *chromedp.Target) error { f(); return nil })
}

// TestBrowser is the console in Chromium, as an operator uses it: log in,
// chat with the bot, click a menu, save a broken script, watch the log,
// look up and delete a session.
func TestBrowser(t *testing.T) {
	e := newEnv(t, envOptions{watch: true})
	ctx := browser(t, 1280, 900, "en-US")
	url := e.srv.URL + "/"

	run(t, ctx, "log in",
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("app")),
		waitText("#status-cards", "Deliveries"),
	)

	run(t, ctx, "send a text and see the reply bubble",
		chromedp.Navigate(url+"#try"),
		chromedp.WaitVisible(chromedp.ID("try-content")),
		chromedp.SendKeys(chromedp.ID("try-content"), "hello browser"),
		chromedp.Click(chromedp.CSS("#try-text button")),
		waitText(".msg.out .bubble", "hello browser"),
		waitText(".msg.in .bubble", "echo: hello browser"),
	)

	run(t, ctx, "a text with a link",
		chromedp.SendKeys(chromedp.ID("try-content"), "link"),
		chromedp.Click(chromedp.CSS("#try-text button")),
		waitText(".msg.in .bubble a[href='https://example.com/doc']", "the docs"),
	)

	run(t, ctx, "click a menu key and see an article card",
		chromedp.SendKeys(chromedp.ID("try-key"), "news"),
		chromedp.Click(chromedp.CSS("#try-click button")),
		waitText(".msg.in .news .news-cover .title", "LuaRoBot 1.0"),
		waitText(".msg.in .news .news-item .title", "Second article"),
	)
	if imgs := eval[int](t, ctx, `document.querySelectorAll(".news-cover img[src='https://example.com/cover.jpg']").length`); imgs != 1 {
		t.Errorf("article cover images: %d", imgs)
	}

	run(t, ctx, "a late customer-service message arrives in the chat",
		chromedp.SendKeys(chromedp.ID("try-content"), "push"),
		chromedp.Click(chromedp.CSS("#try-text button")),
		waitText(".msg.in", "pushed through the customer-service API"),
	)

	run(t, ctx, "a dialog shows its step",
		chromedp.SendKeys(chromedp.ID("try-content"), "下单"),
		chromedp.Click(chromedp.CSS("#try-text button")),
		waitText(".msg.in .bubble", "请问怎么称呼？"),
		waitText("#try-dialog", "order · step 1"),
	)

	run(t, ctx, "save a broken script and see the error with its line",
		chromedp.Navigate(url+"#scripts"),
		waitText("#scripts-files", "robot.key_click [click_event] key \"news\""),
		do(func() { e.write("bot.lua", "robot.text(function()\n  return 'x'\nend)\nrobot.text(function(\n") }),
		waitText(".err-box.load .where", "bot.lua:4: syntax error"),
		waitText(".err-box.load .source .here", "robot.text(function("),
	)

	run(t, ctx, "watch a log line arrive",
		chromedp.Navigate(url+"#log"),
		chromedp.WaitVisible(chromedp.ID("log-lines")),
		do(func() { e.log.Warn("a line for the browser", "marker", "xyzzy") }),
		waitText("#log-lines .line.WARN", "a line for the browser"),
		waitText("#log-state", "live"),
	)
	run(t, ctx, "the level filter", chromedp.SetValue(chromedp.ID("log-level"), "ERROR"))
	eval[bool](t, ctx, `document.getElementById("log-level").dispatchEvent(new Event("change"))`)
	if warnShown := eval[int](t, ctx, `document.querySelectorAll("#log-lines .line.WARN").length`); warnShown != 0 {
		t.Errorf("level error still shows %d warnings", warnShown)
	}

	run(t, ctx, "look up and delete a session",
		chromedp.Navigate(url+"#sessions"),
		chromedp.WaitVisible(chromedp.ID("session-openid")),
		chromedp.SendKeys(chromedp.ID("session-openid"), "console-me"),
		chromedp.Click(chromedp.CSS("#session-form button")),
		waitText("#session-result pre.json", `"name": "order"`),
		chromedp.Click(chromedp.CSS("#session-result button.danger")),
		waitText("#session-result button.danger", "Delete for good?"),
		chromedp.Click(chromedp.CSS("#session-result button.danger")),
		waitText("#session-result", "Session of console-me deleted."),
		chromedp.Click(chromedp.CSS("#session-form button")),
		waitText("#session-result .error", "no session for console-me"),
	)
}

// TestBrowserLoginAgain: when the login ends under an open page (12 hours
// passed, or the host restarted), the page shows the login form, and once
// logged in again every panel is live again. Before, the log stream was
// never reopened ("reconnecting…" for good) and the open panel's polling
// never restarted: a late reply never reached the Try chat.
func TestBrowserLoginAgain(t *testing.T) {
	e := newEnv(t)
	ctx := browser(t, 1280, 900, "en-US")
	login := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("app")),
	}
	run(t, ctx, "open the Try panel", chromedp.Navigate(e.srv.URL+"/#try"))
	run(t, ctx, "log in", login...)
	run(t, ctx, "the log is live",
		do(func() { e.log.Warn("before the login ended") }),
		waitText("#log-lines", "before the login ended"),
		waitText("#log-state", "live"))

	e.clock.Advance(13 * time.Hour) // the login expires
	e.srv.CloseClientConnections()  // and the stream reconnects
	run(t, ctx, "log in again", login...)

	run(t, ctx, "a late reply reaches the chat",
		chromedp.SendKeys(chromedp.ID("try-content"), "slow"),
		chromedp.Click(chromedp.CSS("#try-text button")),
		waitText(".msg.in", "slow answer"))
	run(t, ctx, "the log is live again",
		chromedp.Navigate(e.srv.URL+"/#log"),
		do(func() { e.log.Warn("after the second login") }),
		waitText("#log-lines", "after the second login"),
		waitText("#log-state", "live"))
	if n := eval[int](t, ctx, `Array.from(document.querySelectorAll("#log-lines .line")).filter(l => l.textContent.includes("before the login ended")).length`); n != 1 {
		t.Errorf("the line before the login ended shows %d times", n)
	}
}

// TestBrowserPhoneInChinese: a phone-sized Chromium whose language is
// Chinese gets the page in Chinese and can use it without scrolling
// sideways; the Try panel's other buttons (subscribe, location, image) and
// reply kinds (a music card, an image as a placeholder with its media id)
// show as WeChat shows them.
func TestBrowserPhoneInChinese(t *testing.T) {
	e := newEnv(t)
	ctx := browser(t, 390, 800, "zh-CN")
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 800, chromedp.EmulateMobile))
	url := e.srv.URL + "/"

	run(t, ctx, "the login form is in Chinese",
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("token")),
		waitText("#login-form button[type=submit]", "登录"),
	)
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "zh-CN" {
		t.Errorf("html lang %q, want zh-CN", lang)
	}
	run(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("app")),
		waitText("#tabs", "试用"),
	)

	run(t, ctx, "subscribe",
		chromedp.Navigate(url+"#try"),
		chromedp.WaitVisible(chromedp.ID("try-subscribe")),
		waitText("#try-subscribe", "关注"),
		chromedp.Click(chromedp.ID("try-subscribe")),
		waitText(".msg.in .bubble", "感谢关注！"),
	)
	run(t, ctx, "location",
		chromedp.Click(chromedp.ID("try-location")),
		waitText(".msg.in .bubble", "你在 广州市海珠区"),
	)
	run(t, ctx, "an image comes back as a placeholder with its media id",
		chromedp.Click(chromedp.ID("try-image")),
		waitText(".msg.in .media .kind", "图片"),
		waitText(".msg.in .media code", "media_id: simulated_media_id"),
	)
	run(t, ctx, "a music card",
		chromedp.SendKeys(chromedp.ID("try-key"), "music"),
		chromedp.Click(chromedp.CSS("#try-click button")),
		waitText(".msg.in .music .title", "小夜曲"),
		waitText(".msg.in .music .desc", "舒伯特"),
	)
	if n := eval[int](t, ctx, `document.querySelectorAll(".msg.in .music a[href='https://example.com/serenade.mp3']").length`); n != 1 {
		t.Errorf("music card links: %d", n)
	}

	for _, panel := range []string{"try", "status", "scripts", "log", "sessions"} {
		run(t, ctx, panel+" on a phone",
			chromedp.Navigate(url+"#"+panel),
			chromedp.WaitVisible(chromedp.ID("app")),
			waitJS(`document.readyState === "complete"`),
		)
		if wide := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`); wide {
			w := eval[string](t, ctx, `document.documentElement.scrollWidth + " > " + window.innerWidth`)
			t.Errorf("%s panel scrolls sideways on a phone: %s", panel, w)
		}
	}
}
