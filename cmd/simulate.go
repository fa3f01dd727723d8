package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
)

// fieldFlags collects repeated --field name=value flags.
type fieldFlags map[string]string

func (f fieldFlags) String() string { return fmt.Sprint(map[string]string(f)) }

func (f fieldFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	f[name] = value
	return nil
}

func simulateCommand(args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: luarobot simulate [flags] ["text" | key]

Acts as WeChat's server: builds a message of any type, signs it with the
host's token (and encrypts it when encoding_aes_key is configured), posts it
to a running host, and prints the decoded reply. It reads the same
configuration as serve (luarobot.toml, LUAROBOT_*, --<key> flags), so with
the same settings it finds and authenticates to the host by itself.

Examples:
  luarobot simulate "你好"
  luarobot simulate --type click --key music
  luarobot simulate --type subscribe --from oUser123
  luarobot simulate --type location --field label=天安门 --field scale=15
  luarobot simulate --type subscribe_msg_popup --field 'subscribes=[{"template_id":"T1","subscribe_status_string":"accept"}]'
  luarobot simulate --retry 2 --retry-interval 1s "slow question"

Flags:
`)
		fs.PrintDefaults()
	}
	typ := fs.String("type", "text", "message or event type: text, image, voice, video, shortvideo, location, link, subscribe, unsubscribe, scan, click, view, location_event, scancode_push, ... (WeRoBot's names; _event optional)")
	key := fs.String("key", "", "EventKey of an event (menu key, QR scene)")
	from := fs.String("from", "simulated-user", "the user's OpenID (FromUserName)")
	to := fs.String("to", "gh_simulated", "the account's original ID (ToUserName)")
	msgID := fs.String("msg-id", "", "MsgId of a message (default: a fresh one)")
	fields := fieldFlags{}
	fs.Var(fields, "field", "set a type-specific field, name=value (repeatable), e.g. --field label=天安门; lists and blocks (subscribes, chosen_beacon) as JSON")
	raw := fs.String("raw", "", "send this XML file as the message instead of building one")
	target := fs.String("url", "", "the host's URL (default http://<host>:<port><path> from the configuration)")
	retry := fs.Int("retry", 0, "send the message this many more times, as WeChat retries a late answer")
	interval := fs.Duration("retry-interval", time.Second, "time between retries (WeChat waits 5s)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long a delivery waits for its answer (WeChat: 5s)")
	cfg, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	if cfg.Token == "" {
		return errors.New("no token: set the host's token (token in luarobot.toml, LUAROBOT_TOKEN or --token); a host started without one prints its generated token")
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("one text argument expected, got %d (quote the text)", fs.NArg())
	}
	if *retry < 0 || *retry > 10 {
		return fmt.Errorf("--retry %d: want 0-10", *retry)
	}
	url := *target
	if url == "" {
		c := cfg
		if c.Host == "0.0.0.0" || c.Host == "" || c.Host == "::" {
			c.Host = "127.0.0.1" // listening everywhere: reach it locally
		}
		url = "http://" + c.Addr() + cfg.Path
	}
	sim, err := simulate.New(simulate.Options{
		URL: url, Token: cfg.Token, AppID: cfg.AppID, EncodingAESKey: cfg.EncodingAESKey, Timeout: *timeout,
	})
	if err != nil {
		return err
	}

	var body []byte
	var summary string
	if *raw != "" {
		if body, err = os.ReadFile(*raw); err != nil {
			return fmt.Errorf("--raw: %w", err)
		}
		summary = "raw message from " + *raw
	} else {
		m, err := simulate.Build(simulate.Spec{
			Type: *typ, From: *from, To: *to, Text: fs.Arg(0), Key: *key, MsgID: *msgID, Fields: fields,
		})
		if err != nil {
			return err
		}
		if body, err = message.Marshal(m); err != nil {
			return err
		}
		summary = simulate.Summary(m)
	}
	mode := "plain"
	if sim.Encrypted() {
		mode = "aes"
	}
	fmt.Printf("→ %s\n  to %s (%s mode)\n", summary, url, mode)

	failed := false
	for _, d := range sim.Send(context.Background(), body, *retry, *interval) {
		label := "answer"
		if d.Attempt > 1 {
			label = fmt.Sprintf("retry %d", d.Attempt-1)
		}
		ms := d.Elapsed.Round(time.Millisecond)
		switch {
		case d.Err != nil:
			failed = true
			fmt.Printf("← %s after %v: %v\n", label, ms, d.Err)
		case d.Status != 200:
			failed = true
			fmt.Printf("← %s after %v: HTTP %d: %s\n", label, ms, d.Status, strings.TrimSpace(string(d.Body)))
		default:
			fmt.Printf("← %s after %v: %s\n", label, ms, simulate.Describe(d.Body))
		}
	}
	if failed {
		return exitError(1)
	}
	return nil
}
