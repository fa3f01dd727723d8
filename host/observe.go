package host

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/luarobot/luarobot/host/delivery"
	"github.com/luarobot/luarobot/host/inbox"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/metrics"
)

// The operator sees every delivery twice: in the metrics
// (luarobot_deliveries_total, luarobot_delivery_seconds) and in one log
// line, written when the delivery's outcome is known — at the answer for
// most, when the handlers finish for a late one:
//
//	level=INFO msg=delivery type=text user=5b1d0c3e handler=hello.lua:12 reply=text duration=3.1ms outcome=replied
//
// A failed delivery logs the same line at error level, with the error
// (the script's file:line and message), so that a host run at
// log_level = warn still shows its Lua errors.

// observation is what is known about one delivery.
type observation struct {
	outcome  string        // a metrics outcome: replied, empty, late, retry, error
	answered time.Duration // from arrival to the answer WeChat got
	handler  string        // file:line of the handler that answered, "" when none
	kind     string        // the reply's kind, "" for none (success)
	err      error
	extra    []any // more attributes (a late reply's fate)
}

// resultObservation describes a delivery that ran the handlers: an error
// when they failed, empty when they gave no reply, else answered (replied
// or late).
func resultObservation(res result, answered time.Duration, answeredOutcome string) observation {
	o := observation{outcome: answeredOutcome, answered: answered, handler: res.handler, kind: res.kind, err: res.err}
	switch {
	case res.err != nil:
		o.outcome = metrics.Error
	case res.first == nil:
		o.outcome = metrics.Empty
	}
	return o
}

// observe counts the delivery and writes its log line.
func (e *engine) observe(msg *message.Message, o observation) {
	e.opts.Metrics.Delivery(msg.Type, o.outcome, inbox.IsConsoleUser(msg.Source), o.answered)
	level := slog.LevelInfo
	if o.outcome == metrics.Error {
		level = slog.LevelError
	}
	if !e.log.Enabled(context.Background(), level) {
		return
	}
	handler, kind := o.handler, o.kind
	if handler == "" {
		handler = "-"
	}
	if kind == "" {
		kind = "success"
	}
	attrs := make([]any, 0, 16+len(o.extra))
	attrs = append(attrs, "type", msg.Type, "user", e.user(msg.Source), "handler", handler, "reply", kind,
		"duration", roundDuration(o.answered), "outcome", o.outcome)
	attrs = append(attrs, o.extra...)
	if o.err != nil {
		attrs = append(attrs, "error", e.redactUser(o.err.Error(), msg.Source))
	}
	e.log.Log(context.Background(), level, "delivery", attrs...)
}

// user is how logs name a user: a short stable hash of the openid (the
// same user, the same hash, across messages, restarts and processes), or
// the openid itself with log_user_ids.
func (e *engine) user(openid string) string {
	if e.opts.LogUserIDs {
		return openid
	}
	return UserHash(openid)
}

// redactUser replaces the openid in a message (a store error names the
// session's key) with the name logs give the user.
func (e *engine) redactUser(text, openid string) string {
	if e.opts.LogUserIDs || openid == "" {
		return text
	}
	return strings.ReplaceAll(text, openid, UserHash(openid))
}

// keyOpenID is the openid in a dedup key (appid|openid|...) or a lease
// key (lease|appid|openid).
func keyOpenID(key string) string {
	rest, lease := strings.CutPrefix(key, "lease|")
	_, rest, _ = strings.Cut(rest, "|")
	if lease {
		return rest
	}
	openid, _, _ := strings.Cut(rest, "|")
	return openid
}

// logKey is a dedup or lease record's key as logs show it, and logKeyError
// a store error about that record (the Redis store quotes the key): the
// openid in them becomes the user's hash, as on the delivery line.
func (e *engine) logKey(key string) string { return e.redactUser(key, keyOpenID(key)) }

func (e *engine) logKeyError(key string, err error) string {
	if err == nil {
		return ""
	}
	return e.redactUser(err.Error(), keyOpenID(key))
}

// UserHash is the short stable hash logs give an openid (see
// delivery.UserHash).
func UserHash(openid string) string { return delivery.UserHash(openid) }

// roundDuration keeps a log's durations readable: 3.12ms, 4.001s.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// payloadKind is the MsgType of a rendered passive reply, "" for success:
// what a retry answered.
func payloadKind(payload []byte) string {
	const open = "<MsgType><![CDATA["
	i := bytes.Index(payload, []byte(open))
	if i < 0 {
		return ""
	}
	rest := payload[i+len(open):]
	j := bytes.Index(rest, []byte("]]>"))
	if j < 0 || j > 32 {
		return ""
	}
	return string(rest[:j])
}
