package luaapi

import (
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/reply"
)

// What a handler may return (the design's table):
//
//	"text"                                    → reply.Text
//	robot.reply.text/image/voice/video/music/articles/transfer_customer_service/success(...)
//	{ {title, description, img, url}, ... }   → reply.Articles (entries may also be keyed tables)
//	{title, description, url, hq_url?}        → reply.Music
//	nil, false or ""                          → the next handler
//
// Anything else is an error that names the handler and what it returned.

// toReply converts a handler's (or robot.send's) value into a reply. nil,
// false and "" give nil: no answer. A reply WeChat would reject (an empty
// media_id, too many articles) is an error here, where the script's line
// is known, rather than a blank message on the user's phone.
func (st *state) toReply(v lua.LValue) (reply.Reply, error) {
	r, err := st.convertReply(v)
	if r == nil || err != nil {
		return r, err
	}
	if err := reply.Validate(r); err != nil {
		return nil, fmt.Errorf("%s, which WeChat would refuse: %s", describe(v), strings.TrimPrefix(err.Error(), "reply: "))
	}
	return r, nil
}

func (st *state) convertReply(v lua.LValue) (reply.Reply, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		if !v {
			return nil, nil
		}
	case lua.LString:
		if v == "" {
			// WeRoBot's rule: an empty reply is falsy, so the next
			// handler tries (and with none, the answer is success).
			return nil, nil
		}
		return &reply.Text{Content: string(v)}, nil
	case *lua.LUserData:
		if r, ok := v.Value.(reply.Reply); ok {
			return r, nil
		}
	case *lua.LTable:
		return tableReply(v)
	}
	return nil, fmt.Errorf("%s, which is not a reply: a reply is a string, a robot.reply value, a list of articles or a music list (nil lets the next handler answer)", describe(v))
}

// tableReply reads WeRoBot's list forms: a list of 4-lists is articles, a
// list of 3 or 4 strings is music.
func tableReply(t *lua.LTable) (reply.Reply, error) {
	t = plainTable(t)
	n := t.Len()
	if n == 0 {
		return nil, errors.New("a table that is not a list; return { {title, description, img, url}, ... } for articles or {title, description, url, hq_url} for music")
	}
	if _, ok := t.RawGetInt(1).(*lua.LTable); ok {
		arts := make([]reply.Article, 0, n)
		for i := 1; i <= n; i++ {
			e, ok := t.RawGetInt(i).(*lua.LTable)
			if !ok {
				return nil, fmt.Errorf("a list of articles whose entry %d is %s, not a table", i, describe(t.RawGetInt(i)))
			}
			a, err := article(e)
			if err != nil {
				return nil, fmt.Errorf("a list of articles whose entry %d %s", i, err)
			}
			arts = append(arts, a)
		}
		return &reply.Articles{Articles: arts}, nil
	}
	if n != 3 && n != 4 {
		return nil, fmt.Errorf("a list of %d values; a music list has 3 or 4 strings: {title, description, url, hq_url}", n)
	}
	var s [4]string
	for i := 1; i <= n; i++ {
		v, ok := luaString(t.RawGetInt(i))
		if !ok {
			return nil, fmt.Errorf("a music list whose value %d is %s, not a string", i, describe(t.RawGetInt(i)))
		}
		s[i-1] = v
	}
	if n == 3 {
		s[3] = s[2] // hq_url defaults to url, as in WeRoBot
	}
	return &reply.Music{Title: s[0], Description: s[1], URL: s[2], HQURL: s[3]}, nil
}

// article reads {title, description, img, url} or {title=, description=,
// img=, url=}.
func article(e *lua.LTable) (reply.Article, error) {
	e = plainTable(e)
	var s [4]string
	if e.RawGetInt(1) != lua.LNil {
		if e.Len() != 4 {
			return reply.Article{}, fmt.Errorf("has %d values; an article is {title, description, img, url}", e.Len())
		}
		for i := 1; i <= 4; i++ {
			v, ok := luaString(e.RawGetInt(i))
			if !ok {
				return reply.Article{}, fmt.Errorf("has %s as value %d, not a string", describe(e.RawGetInt(i)), i)
			}
			s[i-1] = v
		}
	} else {
		for i, k := range [4]string{"title", "description", "img", "url"} {
			v, ok := optString(e.RawGetString(k))
			if !ok {
				return reply.Article{}, fmt.Errorf("has %s as %s, not a string", describe(e.RawGetString(k)), k)
			}
			s[i] = v
		}
		if s[0] == "" && s[3] == "" {
			return reply.Article{}, errors.New("has neither title nor url")
		}
	}
	return reply.Article{Title: s[0], Description: s[1], Img: s[2], URL: s[3]}, nil
}

// luaString accepts strings and numbers (which Lua turns into strings
// wherever one is expected).
func luaString(v lua.LValue) (string, bool) {
	switch v := v.(type) {
	case lua.LString:
		return string(v), true
	case lua.LNumber:
		return v.String(), true
	}
	return "", false
}

// optString is luaString that also accepts nil (as "").
func optString(v lua.LValue) (string, bool) {
	if v == lua.LNil {
		return "", true
	}
	return luaString(v)
}

// newReplyMeta is the metatable of robot.reply values: opaque values whose
// kind names their constructor ("text", "articles", ...) and whose fields
// read as r.content, r.media_id, ...
func (st *state) newReplyMeta() *lua.LTable {
	L := st.L
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", L.NewFunction(replyIndex))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		r := L.CheckUserData(1).Value.(reply.Reply)
		L.Push(lua.LString("robot.reply." + replyName(r)))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	return mt
}

// replyAPI is robot.reply: one constructor per reply type. A value's
// fields (replyIndex) are the constructor's parameters, so the
// definitions of the values derive from these signatures.
var replyAPI = apiTable{name: "robot.reply",
	doc: "Reply constructors: a handler returns their value (or a plain string for text).",
	funcs: []apiFunc{
		replyCtor("text", "(content: string)", "A text reply (a long text is split, see docs/lua.md).", nil,
			func(L *lua.LState) reply.Reply {
				return &reply.Text{Content: checkString(L, 1, "text", "content")}
			}),
		replyCtor("image", "(media_id: string)", "An image reply: media_id of an uploaded image.",
			[]string{"fun(t: {media_id: string}): robot.Reply.image"},
			func(L *lua.LState) reply.Reply {
				return &reply.Image{MediaID: checkMediaID(L, "image")}
			}),
		replyCtor("voice", "(media_id: string)", "A voice reply: media_id of an uploaded voice.",
			[]string{"fun(t: {media_id: string}): robot.Reply.voice"},
			func(L *lua.LState) reply.Reply {
				return &reply.Voice{MediaID: checkMediaID(L, "voice")}
			}),
		replyCtor("video", "(media_id: string, title?: string, description?: string)", "A video reply.",
			[]string{"fun(t: {media_id: string, title?: string, description?: string}): robot.Reply.video"},
			func(L *lua.LState) reply.Reply {
				f := fields(L, "video", "media_id", "title", "description")
				if f[0] == "" {
					L.RaiseError("robot.reply.video: media_id is required")
				}
				return &reply.Video{MediaID: f[0], Title: f[1], Description: f[2]}
			}),
		replyCtor("music", "(title?: string, description?: string, url?: string, hq_url?: string, thumb_media_id?: string)",
			"A music reply; hq_url defaults to url.",
			[]string{"fun(t: {title?: string, description?: string, url?: string, hq_url?: string, thumb_media_id?: string}): robot.Reply.music"},
			func(L *lua.LState) reply.Reply {
				f := fields(L, "music", "title", "description", "url", "hq_url", "thumb_media_id")
				if f[3] == "" {
					f[3] = f[2]
				}
				return &reply.Music{Title: f[0], Description: f[1], URL: f[2], HQURL: f[3], ThumbMediaID: f[4]}
			}),
		replyCtor("articles", "(articles: robot.Article[])", "A news reply: 1 to 8 articles {title=, description=, img=, url=}.", nil,
			func(L *lua.LState) reply.Reply {
				list := plainTable(L.CheckTable(1))
				if list.Len() == 0 {
					L.ArgError(1, "a list of articles { {title=, description=, img=, url=}, ... }")
				}
				arts := make([]reply.Article, 0, list.Len())
				for i := 1; i <= list.Len(); i++ {
					e, ok := list.RawGetInt(i).(*lua.LTable)
					if !ok {
						L.RaiseError("robot.reply.articles: entry %d is %s, not a table", i, describe(list.RawGetInt(i)))
					}
					a, err := article(e)
					if err != nil {
						L.RaiseError("robot.reply.articles: entry %d %s", i, err)
					}
					arts = append(arts, a)
				}
				return &reply.Articles{Articles: arts}
			}),
		replyCtor("transfer_customer_service", "(account?: string)",
			"Hands the user over to the customer-service staff (account: one kf_account, or any).", nil,
			func(L *lua.LState) reply.Reply {
				acct, ok := optString(L.Get(1))
				if !ok {
					L.ArgError(1, "the kf_account, a string (or nothing)")
				}
				return &reply.TransferCustomerService{Account: acct}
			}),
		replyCtor("success", "()", "Answers nothing: WeChat gets success and the user sees nothing.", nil,
			func(L *lua.LState) reply.Reply { return &reply.Success{} }),
	}}

// replyCtor is the constructor robot.reply.NAME: build reads the
// arguments; the value it makes is of class robot.Reply.NAME.
func replyCtor(name, params, doc string, overloads []string, build func(L *lua.LState) reply.Reply) apiFunc {
	return apiFunc{Name: name, Sig: params + ": robot.Reply." + name, Doc: doc, Overloads: overloads,
		Fn: func(st *state, L *lua.LState) int {
			ud := L.NewUserData()
			ud.Value = build(L)
			ud.Metatable = st.replyMeta
			L.Push(ud)
			return 1
		}}
}

func checkString(L *lua.LState, n int, fn, what string) string {
	s, ok := luaString(L.Get(n))
	if !ok {
		L.RaiseError("robot.reply.%s: %s must be a string, got %s", fn, what, describe(L.Get(n)))
	}
	return s
}

func checkMediaID(L *lua.LState, fn string) string {
	if t, ok := L.Get(1).(*lua.LTable); ok {
		L.Replace(1, t.RawGetString("media_id"))
	}
	id := checkString(L, 1, fn, "media_id")
	if id == "" {
		L.RaiseError("robot.reply.%s: media_id is required", fn)
	}
	return id
}

// fields reads a constructor's arguments, given either as one table with
// the named keys or positionally in the order of names.
func fields(L *lua.LState, fn string, names ...string) []string {
	out := make([]string, len(names))
	t, keyed := L.Get(1).(*lua.LTable)
	if keyed {
		t = plainTable(t)
	}
	for i, name := range names {
		var v lua.LValue
		if keyed {
			v = t.RawGetString(name)
		} else {
			v = L.Get(i + 1)
		}
		s, ok := optString(v)
		if !ok {
			L.RaiseError("robot.reply.%s: %s must be a string, got %s", fn, name, describe(v))
		}
		out[i] = s
	}
	return out
}

// replyName is the constructor that makes r.
func replyName(r reply.Reply) string {
	if _, ok := r.(*reply.Articles); ok {
		return "articles"
	}
	return r.Kind()
}

// replyIndex lets a script read a reply's fields.
func replyIndex(L *lua.LState) int {
	r := L.CheckUserData(1).Value.(reply.Reply)
	key := L.CheckString(2)
	if key == "kind" {
		L.Push(lua.LString(replyName(r)))
		return 1
	}
	var v lua.LValue = lua.LNil
	str := func(s string) { v = lua.LString(s) }
	switch r := r.(type) {
	case *reply.Text:
		if key == "content" {
			str(r.Content)
		}
	case *reply.Image:
		if key == "media_id" {
			str(r.MediaID)
		}
	case *reply.Voice:
		if key == "media_id" {
			str(r.MediaID)
		}
	case *reply.Video:
		switch key {
		case "media_id":
			str(r.MediaID)
		case "title":
			str(r.Title)
		case "description":
			str(r.Description)
		}
	case *reply.Music:
		switch key {
		case "title":
			str(r.Title)
		case "description":
			str(r.Description)
		case "url":
			str(r.URL)
		case "hq_url":
			str(r.HQURL)
		case "thumb_media_id":
			str(r.ThumbMediaID)
		}
	case *reply.Articles:
		if key == "articles" {
			t := L.CreateTable(len(r.Articles), 0)
			for _, a := range r.Articles {
				e := L.CreateTable(0, 4)
				e.RawSetString("title", lua.LString(a.Title))
				e.RawSetString("description", lua.LString(a.Description))
				e.RawSetString("img", lua.LString(a.Img))
				e.RawSetString("url", lua.LString(a.URL))
				t.Append(e)
			}
			v = t
		}
	case *reply.TransferCustomerService:
		if key == "account" {
			str(r.Account)
		}
	}
	L.Push(v)
	return 1
}
