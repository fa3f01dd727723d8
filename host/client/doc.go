// Package client is the WeChat Official Account API client: access-token
// and jsapi-ticket management, and one method per API endpoint of the
// reference docs (WeRoBot's and ZgRoBot's Client, wechat-python-sdk's
// WechatBasic, plus OAuth web authorization).
//
// Most callers need three things:
//
//	c, err := client.New(client.Options{AppID: id, AppSecret: secret, Tokens: st})
//	res, err := c.Invoke(ctx, "send_text_message", openid, "hi")
//	res, err = c.Call(ctx, "POST", "/cgi-bin/some/new/api", nil, body)
//
// Invoke calls a method of the reference docs by its Python name with
// Python's positional arguments (see Methods for the list and docs/client.md
// for the table of endpoints); Call reaches any endpoint that is not wrapped
// yet. Both add the access token, retry once when WeChat says the token is
// no longer valid, and return the decoded JSON answer.
//
// # Errors
//
// A WeChat answer with a non-zero errcode is an *APIError (use errors.As);
// its text names the method, the errcode and a hint for the common ones.
// Transport errors are wrapped with the method name. No error or log line
// contains the access token or the AppSecret: request URLs are cut to their
// path and any other error text is cleaned of them. No redirect is followed
// (WeChat's API does not redirect; a redirect would carry the credentials
// to another server). Invalid arguments are an *ArgError.
//
// # Tokens
//
// The access token is fetched on first need and cached in the store.Tokens
// under "<appid>:access_token" with the time it stops being used (WeChat's
// expiry less a refresh margin), so a restart or another host process sharing
// the store reuses it. Concurrent callers that find no usable token wait for
// one fetch (single flight). The jsapi ticket is kept the same way under
// "<appid>:jsapi_ticket".
//
// # Media
//
// Uploads read only from Options.MediaDir (through os.Root, so neither ".."
// nor a symbolic link escapes it). Downloads return the bytes and their
// content type as a *Media, or save them into MediaDir, never into or under
// one of Options.ForbiddenDirs (the scripts folder) however MediaDir
// overlaps it.
package client
