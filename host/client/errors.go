package client

import (
	"errors"
	"fmt"
)

// APIError is an answer from WeChat with a non-zero errcode.
type APIError struct {
	Code   int    // WeChat's errcode
	Msg    string // WeChat's errmsg
	Method string // the Client method (or "call /path") that got it
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("wechat %s: errcode %d: %s", e.Method, e.Code, e.Msg)
	if h := Hint(e.Code); h != "" {
		s += " (hint: " + h + ")"
	}
	return s
}

// hints explain the errcodes that operators meet most, in the words of what
// to do about them. WeChat's errmsg alone ("invalid ip 1.2.3.4 ipv6 ::ffff,
// not in whitelist rid: ...") rarely says where to fix it.
var hints = map[int]string{
	-1:    "WeChat is busy; try again in a moment",
	40001: "the access token is not valid: the AppSecret is wrong, or another deployment fetched a new token (set use_stable_token = true to share one)",
	40002: "invalid grant_type",
	40003: "invalid openid: the user does not follow this account, or the openid belongs to another AppID",
	40007: "invalid media_id: the media expired (temporary media last 3 days) or belongs to another account",
	40013: "invalid AppID: check app_id",
	40014: "the access token is malformed",
	40016: "invalid button count: a menu has 1 to 3 top-level buttons",
	40017: "invalid button type: check each button's type (click, view, miniprogram, scancode_push, ...)",
	40018: "invalid button name: at most 16 bytes for a top-level button, 60 for a sub-button",
	40019: "invalid button key: at most 128 bytes",
	40023: "invalid sub-button count: 1 to 5 sub-buttons under a button",
	40125: "invalid AppSecret: check app_secret (it changes when reset in the admin console)",
	40164: "this server's IP is not on the account's IP whitelist (公众号后台 → 设置与开发 → 基本配置 → IP白名单); add it, or send the Client through a fixed-IP proxy",
	41001: "the access token is missing",
	42001: "the access token expired",
	43004: "the user does not follow this account",
	45009: "the daily quota of this API is used up; it resets at midnight (Beijing time), or clear it with robot.client.clear_quota() (a few times a month)",
	45015: "the user has not talked to the account in the last 48 hours, so customer-service messages cannot reach them",
	45047: "too many customer-service messages to this user without an answer from them",
	48001: "this account is not authorised for this API (account type or verification); see the permissions page of the admin console",
	50001: "this user has not authorised the API",
}

// Hint returns a short explanation of a WeChat errcode, or "" when there is
// none.
func Hint(code int) string { return hints[code] }

// ArgError is a call with arguments that do not fit the method: a script bug
// rather than a WeChat answer (the Lua bindings raise it as a Lua error).
type ArgError struct {
	Method string
	Msg    string
}

func (e *ArgError) Error() string { return e.Method + ": " + e.Msg }

// ErrMediaPath is wrapped by the error for an upload or download path that
// is not inside the media folder.
var ErrMediaPath = errors.New("path is outside media_dir")

// ErrForbiddenDir is wrapped by the error for a download that would be
// saved into, or under, one of Options.ForbiddenDirs (the scripts folder).
var ErrForbiddenDir = errors.New("downloads may not be saved into this folder")
