package client

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Method describes one Client method: its Python name and positional
// parameters, and the WeChat endpoint it calls. The table in methods.go is
// the single source of truth: Invoke, the Lua bindings, the tests and
// docs/client.md all derive from it.
type Method struct {
	Name       string  // the Python (and Lua) name, e.g. "create_menu"
	HTTPMethod string  // "GET" or "POST"; "" for methods answered locally
	Path       string  // the endpoint path under its host
	Params     []Param // positional parameters, in order
	Result     Result  // what the method returns
	// Source names the reference doc the method comes from.
	Source string
	// Note is a remark for docs/client.md ("" for none).
	Note string

	host  host
	auth  authMode
	fixed map[string]any // constant JSON members, dotted keys
	// build completes the request for mappings the Param table cannot say.
	build func(c *Client, a *args, r *request, body map[string]any) error
	// local answers the method without a request of its own.
	local func(ctx context.Context, c *Client, a *args) (any, error)
}

// Param is one positional parameter.
type Param struct {
	Name string
	// Default is used when the argument is absent (nil); nil means the
	// argument is required unless Optional.
	Default any
	// Optional parameters without a Default are left out of the request
	// when absent.
	Optional bool

	typ argType
	in  place
	key string // where it goes: a dotted JSON path, a query name, a form field
}

// Result is the kind of value a method returns from Invoke.
type Result int

const (
	ResultJSON   Result = iota // map[string]any: WeChat's decoded answer
	ResultMedia                // *Media: downloaded bytes or the saved file
	ResultString               // string: a token, a signature or a URL
)

// host says which WeChat host serves the endpoint.
type host int

const (
	hostAPI  host = iota // api_base
	hostMP               // mp.weixin.qq.com (QR-code images)
	hostOpen             // open.weixin.qq.com (OAuth consent page)
)

// argType is the kind of value a parameter accepts.
type argType int

const (
	tString argType = iota // a string; numbers become their decimal text
	tInt                   // an integer, or a string of digits (64-bit ids keep every digit)
	tTable                 // a JSON object (a Lua table with keys)
	tList                  // a JSON array (a Lua sequence; {} is the empty list)
	tJSON                  // any JSON value
	tBool                  // a boolean
	tFlag                  // a boolean, or 0/1 as Python callers pass it
	tPath                  // a path inside media_dir
	tAny                   // any value; the method's build checks it
)

var typeNames = map[argType]string{
	tString: "a string", tInt: "an integer", tTable: "a table", tList: "a list",
	tJSON: "a table", tBool: "a boolean", tFlag: "a boolean (or 0/1)", tPath: "a path inside media_dir", tAny: "a value",
}

// place is where an argument goes in the request.
type place int

const (
	inBody  place = iota // the JSON body member at key (dotted for nesting)
	inWhole              // the whole JSON body
	inQuery              // the query parameter key
	inFile               // the multipart file field key; the value is a path in media_dir
	inLocal              // used by build or local, or accepted for compatibility only
)

// Media is what a download returns: the bytes and their content type, or,
// when the caller asked to save it, the path of the file inside media_dir.
type Media struct {
	Data        []byte
	ContentType string
	Path        string // set (and Data nil) when the media was saved
}

// args are the bound arguments of one call, by parameter name.
type args struct {
	m    *Method
	vals map[string]any
}

func (a *args) has(name string) bool { return a.vals[name] != nil }
func (a *args) val(name string) any  { return a.vals[name] }
func (a *args) str(name string) string {
	s, _ := a.vals[name].(string)
	return s
}

// Invoke calls the named method of Methods with Python's positional
// arguments. Arguments are plain Go values: string, bool, any integer or
// float type, json.Number, []any, []string, map[string]any; nil is an
// absent argument (its default applies). The result is a map[string]any
// for ResultJSON methods, a *Media for downloads and a string for
// ResultString methods. Argument errors are an *ArgError.
func (c *Client) Invoke(ctx context.Context, name string, argv ...any) (any, error) {
	m := methodIndex[name]
	if m == nil {
		return nil, &ArgError{Method: name, Msg: "no such method (see docs/client.md, or use call for other endpoints)"}
	}
	a, err := m.bind(argv)
	if err != nil {
		return nil, err
	}
	if m.local != nil {
		return m.local(ctx, c, a)
	}
	r, err := m.request(c, a)
	if err != nil {
		return nil, err
	}
	res, media, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if m.Result != ResultMedia {
		return res, nil
	}
	if a.has("save_as") {
		if err := c.saveMedia(m.Name, a.str("save_as"), media.Data); err != nil {
			return nil, err
		}
		return &Media{ContentType: media.ContentType, Path: a.str("save_as")}, nil
	}
	return media, nil
}

// bind checks the arguments against the parameters and converts them.
func (m *Method) bind(argv []any) (*args, error) {
	if len(argv) > len(m.Params) {
		return nil, &ArgError{Method: m.Name, Msg: fmt.Sprintf("takes at most %d arguments %s, got %d", len(m.Params), m.Signature(), len(argv))}
	}
	a := &args{m: m, vals: make(map[string]any, len(m.Params))}
	for i, p := range m.Params {
		var v any
		if i < len(argv) {
			v = argv[i]
		}
		if v == nil {
			v = p.Default
		}
		if v == nil {
			if !p.Optional {
				return nil, &ArgError{Method: m.Name, Msg: fmt.Sprintf("argument #%d (%s) is required: %s", i+1, p.Name, m.Signature())}
			}
			continue
		}
		cv, ok := convert(p.typ, plain(v))
		if !ok {
			return nil, &ArgError{Method: m.Name, Msg: fmt.Sprintf("argument #%d (%s) must be %s, got %s", i+1, p.Name, typeNames[p.typ], describe(v))}
		}
		a.vals[p.Name] = cv
	}
	return a, nil
}

// Signature renders the Python signature, e.g.
// `get_user_info(user_id, lang="zh_CN")`.
func (m *Method) Signature() string {
	parts := make([]string, len(m.Params))
	for i, p := range m.Params {
		switch {
		case p.Default != nil:
			d, _ := json.Marshal(p.Default)
			parts[i] = p.Name + "=" + string(d)
		case p.Optional:
			parts[i] = p.Name + "=nil"
		default:
			parts[i] = p.Name
		}
	}
	return m.Name + "(" + strings.Join(parts, ", ") + ")"
}

// request builds the HTTP request of a bound call.
func (m *Method) request(c *Client, a *args) (*request, error) {
	r := &request{name: m.Name, method: m.HTTPMethod, path: m.Path, query: url.Values{}, auth: m.auth,
		download: m.Result == ResultMedia}
	switch m.host {
	case hostMP:
		r.base = c.mpBase
	case hostOpen:
		r.base = c.openBase
	}
	body := map[string]any{}
	for k, v := range m.fixed {
		setPath(body, k, v)
	}
	var whole any
	for _, p := range m.Params {
		v := a.vals[p.Name]
		if v == nil {
			continue
		}
		switch p.in {
		case inBody:
			setPath(body, p.key, v)
		case inWhole:
			whole = v
		case inQuery:
			r.query.Set(p.key, queryString(v))
		case inFile:
			name, data, err := c.readMedia(m.Name, v.(string))
			if err != nil {
				return nil, err
			}
			if r.form == nil {
				r.form = &multipartForm{}
			}
			r.form.files = append(r.form.files, filePart{field: p.key, name: name, data: data})
		}
	}
	if m.build != nil {
		if err := m.build(c, a, r, body); err != nil {
			return nil, err
		}
	}
	switch {
	case r.form != nil || r.body != nil:
	case whole != nil:
		r.body = whole
	case m.HTTPMethod == http.MethodPost:
		r.body = body // {} when nothing is set: WeChat wants a JSON body on every POST
	}
	return r, nil
}

// setPath sets a dotted path ("text.content") in a JSON object.
func setPath(obj map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := obj[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[k] = next
		}
		obj = next
	}
	obj[keys[len(keys)-1]] = v
}

func queryString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// plain turns the Go values callers pass into the few kinds convert knows.
func plain(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint:
		return json.Number(strconv.FormatUint(uint64(v), 10))
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint64:
		return json.Number(strconv.FormatUint(v, 10))
	case float32:
		return float64(v)
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(v))
		for k, s := range v {
			out[k] = s
		}
		return out
	case []map[string]any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = e
		}
		return out
	}
	return v
}

// convert checks v against t and returns the value to send.
func convert(t argType, v any) (any, bool) {
	switch t {
	case tString, tPath:
		switch v := v.(type) {
		case string:
			return v, true
		case int64:
			return strconv.FormatInt(v, 10), true
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), true
		case json.Number:
			return string(v), true
		}
	case tInt:
		switch v := v.(type) {
		case int64:
			return v, true
		case float64:
			if v == math.Trunc(v) && math.Abs(v) <= maxExact {
				return int64(v), true
			}
		case json.Number:
			return canonicalInt(string(v))
		case string:
			// A 64-bit id from Lua arrives as a string (a Lua number would
			// round it): send its digits as a JSON number.
			return canonicalInt(v)
		}
	case tTable:
		if m, ok := v.(map[string]any); ok {
			return m, true
		}
	case tList:
		switch v := v.(type) {
		case []any:
			return v, true
		case map[string]any:
			if len(v) == 0 { // Lua's {} is both
				return []any{}, true
			}
		}
	case tJSON:
		switch v.(type) {
		case map[string]any, []any:
			return v, true
		}
	case tBool:
		if b, ok := v.(bool); ok {
			return b, true
		}
	case tFlag:
		switch v := v.(type) {
		case bool:
			return v, true
		case int64:
			if v == 0 || v == 1 {
				return v == 1, true
			}
		case float64:
			if v == 0 || v == 1 {
				return v == 1, true
			}
		case json.Number:
			if v == "0" || v == "1" {
				return v == "1", true
			}
		}
	case tAny:
		return v, true
	}
	return nil, false
}

// canonicalInt turns the text of a 64-bit integer into a JSON number.
// strconv.ParseInt also takes "+5" and "007", which are not JSON: the
// number is written again from its value instead of passed through.
func canonicalInt(s string) (any, bool) {
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, false
	}
	return json.Number(strconv.FormatInt(i, 10)), true
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case map[string]any:
		return "a table"
	case []any:
		return "a list"
	case bool:
		return "a boolean"
	case int64, float64, json.Number:
		return fmt.Sprintf("number %v", v)
	}
	return fmt.Sprintf("%T", v)
}

// Methods returns every method the Client wraps, grouped by topic in the
// order of the reference docs.
func Methods() []Method {
	return append([]Method(nil), methods...)
}

// LookupMethod returns the method with that name.
func LookupMethod(name string) (Method, bool) {
	m := methodIndex[name]
	if m == nil {
		return Method{}, false
	}
	return *m, true
}

var methodIndex = func() map[string]*Method {
	idx := make(map[string]*Method, len(methods))
	for i := range methods {
		m := &methods[i]
		if idx[m.Name] != nil {
			panic("client: method " + m.Name + " listed twice")
		}
		idx[m.Name] = m
	}
	return idx
}()
