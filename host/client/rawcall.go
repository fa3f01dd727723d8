package client

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// get and post are WeRoBot's Client.get(url, params) and
// Client.post(url, data, files): any endpoint, with the access token added.
// The token must reach WeChat and nothing else, so the URL is checked
// before anything is sent: a path under api_base, or an absolute URL on
// api_base's (or WeChat's own) scheme, host and port, without a user name,
// a fragment, "." or ".." segments, encoded slashes or backslashes. A URL
// on https://api.weixin.qq.com is sent to api_base, as every method is, so
// a script written against WeChat also runs against a fake server.

// rawGet answers get(path_or_url, params).
func rawGet(ctx context.Context, c *Client, a *args) (any, error) {
	path, query, err := c.apiTarget(a.m.Name, a.str("path_or_url"))
	if err != nil {
		return nil, err
	}
	if err := addParams(a.m.Name, query, a.val("params")); err != nil {
		return nil, err
	}
	r := &request{name: a.m.Name + " " + path, method: http.MethodGet, path: path, query: query, auth: authApp}
	res, _, err := c.do(ctx, r)
	return res, err
}

// rawPost answers post(path_or_url, data, files): data is the JSON body (a
// table, or a string sent as it is); with files (field name → path inside
// media_dir) the body is a multipart form whose other fields are data's.
func rawPost(ctx context.Context, c *Client, a *args) (any, error) {
	path, query, err := c.apiTarget(a.m.Name, a.str("path_or_url"))
	if err != nil {
		return nil, err
	}
	r := &request{name: a.m.Name + " " + path, method: http.MethodPost, path: path, query: query, auth: authApp}
	files, _ := a.val("files").(map[string]any)
	if len(files) == 0 {
		r.body = a.val("data")
		if r.body == nil {
			r.body = map[string]any{} // WeChat wants a JSON body on every POST
		}
		res, _, err := c.do(ctx, r)
		return res, err
	}
	r.form = &multipartForm{}
	for _, field := range slices.Sorted(maps.Keys(files)) {
		// The name goes between quotes in the part's header, as is.
		if field == "" || strings.ContainsFunc(field, func(r rune) bool { return r < ' ' || r == 0x7f || r == '"' || r == '\\' }) {
			return nil, &ArgError{Method: a.m.Name, Msg: fmt.Sprintf("argument #3 (files): the field name %q is empty or holds a quote, a backslash or a control character", field)}
		}
		rel, ok := files[field].(string)
		if !ok {
			return nil, &ArgError{Method: a.m.Name, Msg: fmt.Sprintf("argument #3 (files): %s must be a path inside media_dir, got %s", field, describe(files[field]))}
		}
		name, data, err := c.readMedia(a.m.Name, rel)
		if err != nil {
			return nil, err
		}
		r.form.files = append(r.form.files, filePart{field: field, name: name, data: data})
	}
	switch data := a.val("data").(type) {
	case nil:
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(data)) {
			v, ok := data[k].(string)
			if !ok {
				b, err := encodeJSON(data[k])
				if err != nil {
					return nil, &ArgError{Method: a.m.Name, Msg: "argument #2 (data): " + k + ": " + err.Error()}
				}
				v = string(b)
			}
			r.form.fields = append(r.form.fields, [2]string{k, v})
		}
	default:
		return nil, &ArgError{Method: a.m.Name, Msg: "argument #2 (data): with files, data is a table of form fields, got " + describe(data)}
	}
	res, _, err := c.do(ctx, r)
	return res, err
}

// apiTarget checks get's and post's path_or_url and returns the path to
// request under api_base and the query the URL carried.
func (c *Client) apiTarget(method, raw string) (string, url.Values, error) {
	refuse := func(why string) (string, url.Values, error) {
		return "", nil, &ArgError{Method: method, Msg: fmt.Sprintf("argument #1 (path_or_url) %q %s; the access token goes to api_base (%s) only", raw, why, c.apiBase)}
	}
	switch {
	case raw == "":
		return refuse("is empty")
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }):
		return refuse("holds a space, a control character or a backslash")
	case strings.HasPrefix(raw, "//"):
		return refuse("starts with //, which names another host")
	case strings.Contains(raw, "#"):
		return refuse("holds a #fragment")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return refuse("is not a URL")
	}
	prefix := "" // api_base's own path, which the request path must start with
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(raw, "/"):
		// A path under api_base, as call takes.
	case u.Scheme == "" && u.Host == "":
		return refuse("is neither a path starting with / nor an http(s) URL")
	case u.User != nil || strings.Contains(u.Host, "@"):
		return refuse("holds a user name (user@host), which hides the host it goes to")
	case u.Opaque != "":
		return refuse("is not a hierarchical URL")
	default:
		var ok bool
		if prefix, ok = c.baseOf(u); !ok {
			return refuse("is not on api_base's host")
		}
	}
	p := u.EscapedPath()
	if lp := strings.ToLower(p); strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") {
		return refuse("holds an encoded / or \\")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return refuse("holds a . or .. segment")
		}
	}
	if !strings.HasPrefix(p, prefix+"/") {
		return refuse("is not under api_base's path")
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return refuse("has a malformed query")
	}
	return strings.TrimPrefix(p, prefix), query, nil
}

// baseOf reports whether an absolute URL is on api_base's scheme, host and
// port, or on WeChat's API host (which api_base stands in for), and returns
// that base's path.
func (c *Client) baseOf(u *url.URL) (string, bool) {
	for _, base := range []string{c.apiBase, DefaultAPIBase} {
		b, err := url.Parse(base)
		if err != nil {
			continue
		}
		if strings.EqualFold(u.Scheme, b.Scheme) && strings.EqualFold(u.Hostname(), b.Hostname()) &&
			portOf(u) == portOf(b) {
			return strings.TrimSuffix(b.EscapedPath(), "/"), true
		}
	}
	return "", false
}

// portOf is the URL's port, the scheme's default when none is written.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// addParams adds get's params to the query: strings, numbers, booleans, or
// lists of them for a repeated parameter.
func addParams(method string, query url.Values, params any) error {
	m, _ := params.(map[string]any)
	for k, v := range m {
		vals, ok := paramValues(v)
		if !ok {
			return &ArgError{Method: method, Msg: fmt.Sprintf("argument #2 (params): %s must be a string, a number, a boolean or a list of them, got %s", k, describe(v))}
		}
		query[k] = append(query[k], vals...)
	}
	return nil
}

func paramValues(v any) ([]string, bool) {
	switch v := v.(type) {
	case string, int64, float64, bool, json.Number:
		return []string{queryString(v)}, true
	case []any:
		var out []string
		for _, e := range v {
			switch e.(type) {
			case string, int64, float64, bool, json.Number:
				out = append(out, queryString(e))
			default:
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}
