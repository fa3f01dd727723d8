package cmd

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/luarobot/luarobot/config"
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
	return simulateRun(context.Background(), args, os.Stdin, os.Stdout)
}

// simulateRun is `luarobot simulate`, reading a conversation from in and
// printing to out.
func simulateRun(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: luarobot simulate [flags] ["text" | key]
       luarobot simulate --verify
       luarobot simulate -i [--from OPENID]

Acts as WeChat's server: builds a message of any type, signs it with the
host's token (and encrypts it when encoding_aes_key is configured), posts it
to a running host, and prints the decoded reply. It reads the same
configuration as serve (luarobot.toml, LUAROBOT_*, --<key> flags), so with
the same settings it finds and authenticates to the host by itself.

--verify does the URL check of WeChat's console (a signed GET whose echostr
the host echoes) and says whether it passed and, if not, why. -i reads a
conversation from the terminal, one message per line, as one user; /help
lists its commands (/click KEY, /subscribe, /location X Y, ...).

Examples:
  luarobot simulate "你好"
  luarobot simulate --type click --key music
  luarobot simulate --type subscribe --from oUser123
  luarobot simulate --type location --field label=天安门 --field scale=15
  luarobot simulate --type subscribe_msg_popup --field 'subscribes=[{"template_id":"T1","subscribe_status_string":"accept"}]'
  luarobot simulate --retry 2 --retry-interval 1s "slow question"
  luarobot simulate --verify --url https://bot.example.com/wechat
  luarobot simulate -i

Flags (and every configuration key as --<key>, as "luarobot serve -h" lists them):
`)
		printOwnFlags(fs)
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
	verify := fs.Bool("verify", false, "do the console's URL check (GET with echostr) and say whether it passed")
	interactive := fs.Bool("i", false, "a conversation: read messages from standard input, one per line, as one user")
	cfg, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError{fmt.Sprintf("one text argument expected, got %d (quote the text)", fs.NArg())}
	}
	typeSet := false
	fs.Visit(func(f *flag.Flag) { typeSet = typeSet || f.Name == "type" })
	if !*verify && !*interactive && *raw == "" && fs.NArg() == 0 && !typeSet {
		fs.SetOutput(out)
		fs.Usage()
		return exitError(2)
	}
	if cfg.Token == "" {
		return errors.New("no token: set the host's token (token in luarobot.toml, LUAROBOT_TOKEN or --token); a host started without one prints its generated token")
	}
	if *retry < 0 || *retry > 10 {
		return usageError{fmt.Sprintf("--retry %d: want 0-10", *retry)}
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
	mode := "plain"
	if sim.Encrypted() {
		mode = "aes"
	}

	switch {
	case *verify:
		if err := sim.Verify(ctx); err != nil {
			fmt.Fprintf(out, "URL check failed: %v\n", err)
			return exitError(1)
		}
		fmt.Fprintf(out, "URL check passed: %s echoed the echostr signed with this token, as WeChat's console requires\n", url)
		return nil
	case *interactive:
		return converse(ctx, sim, in, out, *from, *to, url, mode)
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
	fmt.Fprintf(out, "→ %s\n  to %s (%s mode)\n", summary, url, mode)

	failed := false
	for _, d := range sim.Send(ctx, body, *retry, *interval) {
		label := "answer"
		if d.Attempt > 1 {
			label = fmt.Sprintf("retry %d", d.Attempt-1)
		}
		if !printDelivery(out, sim, label, d) {
			failed = true
		}
	}
	if failed {
		return exitError(1)
	}
	return nil
}

// printDelivery prints one answer, and what a failure probably means; it
// reports whether the delivery succeeded.
func printDelivery(out io.Writer, sim *simulate.Simulator, label string, d simulate.Delivery) bool {
	ms := d.Elapsed.Round(time.Millisecond)
	switch {
	case d.Err != nil:
		fmt.Fprintf(out, "← %s after %v: %v\n", label, ms, d.Err)
	case d.Status != 200:
		fmt.Fprintf(out, "← %s after %v: HTTP %d: %s\n", label, ms, d.Status, strings.TrimSpace(string(d.Body)))
	default:
		fmt.Fprintf(out, "← %s after %v: %s\n", label, ms, simulate.Describe(d.Body))
		return true
	}
	if hint := sim.Explain(d); hint != "" {
		fmt.Fprintf(out, "  hint: %s\n", hint)
	}
	return false
}

// converse is simulate -i: one user's conversation, a message per line of
// in, each answer printed as it comes.
func converse(ctx context.Context, sim *simulate.Simulator, in io.Reader, out io.Writer, from, to, url, mode string) error {
	prompt := ""
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			prompt = from + "> "
		}
	}
	fmt.Fprintf(out, "Talking to %s (%s mode) as %s. /help lists the commands, /quit ends.\n", url, mode, from)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	// Events are deduplicated on their second: two clicks in one second
	// would look like WeChat's retry, so each message gets a later one.
	var last int64
	failures := 0
	for fmt.Fprint(out, prompt); sc.Scan(); fmt.Fprint(out, prompt) {
		line, err := simulate.ParseLine(sc.Text())
		switch {
		case err != nil:
			suggestion := ""
			if name, ok := strings.CutPrefix(err.Error(), "unknown command /"); ok {
				if c := config.Closest(name, simulate.LineCommands()); c != "" {
					suggestion = fmt.Sprintf(" (did you mean /%s?)", c)
				}
			}
			fmt.Fprintf(out, "%v%s; /help lists the commands\n", err, suggestion)
			continue
		case line.Quit:
			return nil
		case line.Help:
			fmt.Fprint(out, simulate.LineHelp())
			continue
		case !line.Send:
			continue
		}
		last = max(last+1, time.Now().Unix())
		spec := line.Spec
		spec.From, spec.To, spec.Time = from, to, last
		m, err := simulate.Build(spec)
		if err != nil {
			fmt.Fprintln(out, err)
			continue
		}
		body, err := message.Marshal(m)
		if err != nil {
			return err
		}
		if spec.Type != "text" {
			fmt.Fprintf(out, "→ %s\n", simulate.Summary(m))
		}
		if !printDelivery(out, sim, "answer", sim.Deliver(ctx, body)) {
			failures++
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the conversation: %w", err)
	}
	if failures > 0 {
		return exitError(1)
	}
	return nil
}

// printOwnFlags prints the defaults of a command's own flags, leaving out
// the --<key> flag of every configuration key that loadConfig adds: they
// are serve's to list.
func printOwnFlags(fs *flag.FlagSet) {
	own := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	own.SetOutput(fs.Output())
	fs.VisitAll(func(f *flag.Flag) {
		if !config.IsKey(f.Name) {
			own.Var(f.Value, f.Name, f.Usage)
		}
	})
	own.PrintDefaults()
}
