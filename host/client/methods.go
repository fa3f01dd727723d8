package client

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/luarobot/luarobot/store"
)

// Where each method comes from (testdata/methods.txt has the exact list per
// reference doc).
const (
	srcWeRoBot = "werobot"           // WeRoBot's and ZgRoBot's Client chapter
	srcPySDK   = "wechat-python-sdk" // wechat-python-sdk's WechatBasic
	srcOAuth   = "oauth"             // OAuth web authorization (网页授权), named after wechatpy's WeChatOAuth
	// WeRoBot's Client (werobot/client.py) has methods its docs do not
	// list: get, post, set_mass_msg_speed.
	srcWeRoBotCode = "werobot client.py"
	// WeChat's API under its own names (DESIGN.md, "WeChat coverage"):
	// 订阅通知, quotas, diagnostics, and aliases of WeRoBot's names.
	srcWeChat = "wechat"
)

const (
	get  = "GET"
	post = "POST"
)

// Parameter constructors: where the argument goes and what it accepts.
func body(name, key string, t argType) Param { return Param{Name: name, typ: t, in: inBody, key: key} }
func query(name, key string, t argType) Param {
	return Param{Name: name, typ: t, in: inQuery, key: key}
}
func whole(name string, t argType) Param { return Param{Name: name, typ: t, in: inWhole} }
func file(name, field string) Param      { return Param{Name: name, typ: tPath, in: inFile, key: field} }
func local(name string, t argType) Param { return Param{Name: name, typ: t, in: inLocal} }

func (p Param) def(v any) Param { p.Default = v; return p }
func (p Param) opt() Param      { p.Optional = true; return p }

// kfAccount is the optional last parameter of the customer-service sends.
var kfAccount = body("kf_account", "customservice.kf_account", tString).opt()

// saveAs is LuaRoBot's optional last parameter of the downloads: a path
// inside media_dir to write the media to instead of returning its bytes.
var saveAs = local("save_as", tPath).opt()

// methods is the table every Client method derives from. Keep it in the
// order of the reference docs; Methods() sorts it.
var methods = []Method{
	// Access token and server IPs.
	{Name: "grant_token", Source: srcWeRoBot, Result: ResultJSON, HTTPMethod: get, Path: "/cgi-bin/token",
		Params: []Param{local("override", tBool).def(true)},
		Note:   "fetches a new token now and caches it; override=false fetches none and returns the cached one as {access_token=, expires_in=}; /cgi-bin/stable_token with use_stable_token",
		local:  grantToken},
	{Name: "get_access_token", Source: srcWeRoBot, Result: ResultString, Path: "/cgi-bin/token",
		Note:  "the cached token, fetched when needed",
		local: current("get_access_token", func(c *Client) *credential { return c.access })},
	{Name: "get_ip_list", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/getcallbackip"},
	{Name: "get_callback_ip", Source: srcWeChat, HTTPMethod: get, Path: "/cgi-bin/getcallbackip",
		Note: "WeChat's name for get_ip_list: the addresses WeChat calls the bot from"},
	{Name: "get_api_domain_ip", Source: srcWeChat, HTTPMethod: get, Path: "/cgi-bin/get_api_domain_ip",
		Note: "the addresses of api.weixin.qq.com"},
	{Name: "check_callback", Source: srcWeChat, HTTPMethod: post, Path: "/cgi-bin/callback/check",
		Params: []Param{body("action", "action", tString).def("all"), body("check_operator", "check_operator", tString).def("DEFAULT")},
		Note:   "网络检测: WeChat tries to reach the callback URL (action: all, dns or ping; check_operator: DEFAULT, CHINANET, UNICOM, CAP)"},
	{Name: "clear_quota", Source: srcWeChat, HTTPMethod: post, Path: "/cgi-bin/clear_quota",
		Note: "resets the account's API call counts (errcode 45009); WeChat allows a few a month",
		build: func(c *Client, _ *args, _ *request, b map[string]any) error {
			b["appid"] = c.appID
			return nil
		}},
	{Name: "get_api_quota", Source: srcWeChat, HTTPMethod: post, Path: "/cgi-bin/openapi/quota/get",
		Params: []Param{body("cgi_path", "cgi_path", tString)},
		Note:   "cgi_path such as \"/cgi-bin/message/custom/send\": its daily_limit, used and remain"},

	// Any endpoint, as WeRoBot's Client.get and Client.post (rawcall.go).
	{Name: "get", Source: srcWeRoBotCode, HTTPMethod: get, Path: "(path_or_url)",
		Params: []Param{local("path_or_url", tString), local("params", tTable).opt()},
		Note:   "a path under api_base or a URL on it (https://api.weixin.qq.com/... goes to api_base); params: the query",
		local:  rawGet},
	{Name: "post", Source: srcWeRoBotCode, HTTPMethod: post, Path: "(path_or_url)",
		Params: []Param{local("path_or_url", tString), local("data", tAny).opt(), local("files", tTable).opt()},
		Note:   "data: the JSON body (a table, or a JSON string); files: {field = path inside media_dir}, data then gives the form fields",
		local:  rawPost},

	// Menus.
	{Name: "create_menu", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/menu/create",
		Params: []Param{whole("menu_data", tTable)}},
	{Name: "get_menu", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/menu/get"},
	{Name: "delete_menu", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/menu/delete"},
	{Name: "create_custom_menu", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/menu/addconditional",
		Params: []Param{local("menu_data", tJSON), body("matchrule", "matchrule", tTable)},
		Note:   "menu_data is the button list (or a table with button)",
		build: func(_ *Client, a *args, _ *request, b map[string]any) error {
			buttons := a.val("menu_data")
			if m, ok := buttons.(map[string]any); ok && m["button"] != nil {
				buttons = m["button"]
			}
			b["button"] = buttons
			return nil
		}},
	{Name: "delete_custom_menu", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/menu/delconditional",
		Params: []Param{body("menu_id", "menuid", tString)}},
	{Name: "match_custom_menu", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/menu/trymatch",
		Params: []Param{body("user_id", "user_id", tString)}},
	{Name: "get_custom_menu_config", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/get_current_selfmenu_info"},
	{Name: "get_current_selfmenu_info", Source: srcWeChat, HTTPMethod: get, Path: "/cgi-bin/get_current_selfmenu_info",
		Note: "WeChat's name for get_custom_menu_config"},

	// Customer-service accounts.
	{Name: "add_custom_service_account", Source: srcWeRoBot, HTTPMethod: post, Path: "/customservice/kfaccount/add",
		Params: []Param{body("account", "kf_account", tString), body("nickname", "nickname", tString), body("password", "password", tString).opt()}},
	{Name: "update_custom_service_account", Source: srcWeRoBot, HTTPMethod: post, Path: "/customservice/kfaccount/update",
		Params: []Param{body("account", "kf_account", tString), body("nickname", "nickname", tString), body("password", "password", tString).opt()}},
	{Name: "delete_custom_service_account", Source: srcWeRoBot, HTTPMethod: get, Path: "/customservice/kfaccount/del",
		Params: []Param{query("account", "kf_account", tString), local("nickname", tString).opt(), local("password", tString).opt()},
		Note:   "nickname and password are accepted for WeRoBot compatibility; WeChat only needs the account"},
	{Name: "upload_custom_service_account_avatar", Source: srcWeRoBot, HTTPMethod: post, Path: "/customservice/kfaccount/uploadheadimg",
		Params: []Param{query("account", "kf_account", tString), file("avatar", "media")},
		Note:   "avatar: a .jpg inside media_dir"},
	{Name: "get_custom_service_account_list", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/customservice/getkflist"},
	{Name: "get_online_custom_service_account_list", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/customservice/getonlinekflist"},

	// Customer-service messages.
	{Name: "send_text_message", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/custom/send",
		fixed:  map[string]any{"msgtype": "text"},
		Params: []Param{body("user_id", "touser", tString), body("content", "text.content", tString), kfAccount}},
	{Name: "send_image_message", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/custom/send",
		fixed:  map[string]any{"msgtype": "image"},
		Params: []Param{body("user_id", "touser", tString), body("media_id", "image.media_id", tString), kfAccount}},
	{Name: "send_voice_message", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/custom/send",
		fixed:  map[string]any{"msgtype": "voice"},
		Params: []Param{body("user_id", "touser", tString), body("media_id", "voice.media_id", tString), kfAccount}},
	{Name: "send_video_message", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/custom/send",
		fixed: map[string]any{"msgtype": "video"},
		Params: []Param{body("user_id", "touser", tString), body("media_id", "video.media_id", tString),
			body("title", "video.title", tString).opt(), body("description", "video.description", tString).opt(), kfAccount}},
	{Name: "send_music_message", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/custom/send",
		fixed: map[string]any{"msgtype": "music"},
		Params: []Param{body("user_id", "touser", tString), body("url", "music.musicurl", tString),
			body("hq_url", "music.hqmusicurl", tString), body("thumb_media_id", "music.thumb_media_id", tString),
			body("title", "music.title", tString).opt(), body("description", "music.description", tString).opt(), kfAccount}},
	{Name: "send_article_message", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/custom/send",
		fixed:  map[string]any{"msgtype": "news"},
		Params: []Param{body("user_id", "touser", tString), local("articles", tList), kfAccount},
		Note:   "articles: {title=, description=, url=, picurl= (or img=)} tables, or {title, description, img, url} lists",
		build: func(_ *Client, a *args, _ *request, b map[string]any) error {
			list, err := newsArticles(a.val("articles").([]any))
			if err != nil {
				return &ArgError{Method: a.m.Name, Msg: err.Error()}
			}
			setPath(b, "news.articles", list)
			return nil
		}},
	{Name: "send_news_message", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/custom/send",
		fixed:  map[string]any{"msgtype": "mpnews"},
		Params: []Param{body("user_id", "touser", tString), body("media_id", "mpnews.media_id", tString), kfAccount}},
	{Name: "send_miniprogrampage_message", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/custom/send",
		fixed: map[string]any{"msgtype": "miniprogrampage"},
		Params: []Param{body("user_id", "touser", tString), body("title", "miniprogrampage.title", tString),
			body("appid", "miniprogrampage.appid", tString), body("pagepath", "miniprogrampage.pagepath", tString),
			body("thumb_media_id", "miniprogrampage.thumb_media_id", tString), kfAccount}},

	// Mass messages.
	{Name: "send_mass_msg", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/mass/sendall",
		Params: []Param{local("msg_type", tString), local("content", tAny), local("user_list", tAny).opt(),
			local("send_ignore_reprint", tFlag).def(false), body("client_msg_id", "clientmsgid", tString).opt()},
		Note:  "user_list: nil sends to everyone, a number to that tag (sendall), a list of openids to them (/cgi-bin/message/mass/send); send_ignore_reprint: true/false or 1/0",
		build: buildMassMsg},
	{Name: "delete_mass_msg", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/mass/delete",
		Params: []Param{body("msg_id", "msg_id", tInt), body("article_idx", "article_idx", tInt).def(int64(0))}},
	{Name: "send_mass_preview_to_user", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/mass/preview",
		Params: []Param{local("msg_type", tString), local("content", tAny), local("user", tString), local("user_type", tString).def("openid")},
		build:  buildMassPreview},
	{Name: "get_mass_msg_status", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/mass/get",
		Params: []Param{body("msg_id", "msg_id", tInt)}},
	{Name: "get_mass_msg_speed", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/mass/speed/get"},
	{Name: "set_mass_msg_speed", Source: srcWeRoBotCode, HTTPMethod: post, Path: "/cgi-bin/message/mass/speed/set",
		Params: []Param{body("speed", "speed", tInt)},
		Note:   "speed: 0 (fastest) to 4"},

	// Groups (WeChat replaced them with tags, but old accounts still use them).
	{Name: "create_group", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/groups/create",
		Params: []Param{body("name", "group.name", tString)}},
	{Name: "get_groups", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/groups/get"},
	{Name: "get_group_by_id", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/groups/getid",
		Params: []Param{body("openid", "openid", tString)}},
	{Name: "update_group", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/groups/update",
		Params: []Param{body("group_id", "group.id", tInt), body("name", "group.name", tString)}},
	{Name: "move_user", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/groups/members/update",
		Params: []Param{body("user_id", "openid", tString), body("group_id", "to_groupid", tInt)}},
	{Name: "move_users", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/groups/members/batchupdate",
		Params: []Param{body("user_id_list", "openid_list", tList), body("group_id", "to_groupid", tInt)}},
	{Name: "delete_group", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/groups/delete",
		Params: []Param{body("group_id", "group.id", tInt)}},

	// Users.
	{Name: "remark_user", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/user/info/updateremark",
		Params: []Param{body("user_id", "openid", tString), body("remark", "remark", tString)}},
	{Name: "get_user_info", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/user/info",
		Params: []Param{query("user_id", "openid", tString), query("lang", "lang", tString).def("zh_CN")}},
	{Name: "get_users_info", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/user/info/batchget",
		Params: []Param{local("user_id_list", tList), local("lang", tString).def("zh_CN")},
		build: func(_ *Client, a *args, _ *request, b map[string]any) error {
			ids := a.val("user_id_list").([]any)
			list := make([]any, len(ids))
			for i, id := range ids {
				list[i] = map[string]any{"openid": id, "lang": a.str("lang")}
			}
			b["user_list"] = list
			return nil
		}},
	{Name: "get_followers", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/user/get",
		Params: []Param{query("first_user_id", "next_openid", tString).opt()}},

	// QR codes.
	{Name: "create_qrcode", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/qrcode/create",
		Params: []Param{whole("data", tTable)}},
	{Name: "show_qrcode", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/showqrcode", host: hostMP, auth: authNone,
		Result: ResultMedia, Params: []Param{query("ticket", "ticket", tString), saveAs},
		Note: "served by mp.weixin.qq.com; returns the image"},

	// Media.
	{Name: "upload_media", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/media/upload",
		Params: []Param{query("media_type", "type", tString), file("media_file", "media"), local("extension", tString).opt()},
		Note:   "media_file: a path inside media_dir; extension (wechat-python-sdk) renames the upload's extension",
		build:  renameUpload},
	{Name: "download_media", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/media/get", Result: ResultMedia,
		Params: []Param{query("media_id", "media_id", tString), saveAs}},
	{Name: "add_news", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/material/add_news",
		Params: []Param{body("articles", "articles", tList)}},
	{Name: "upload_news_picture", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/media/uploadimg",
		Params: []Param{file("file", "media")}},
	{Name: "upload_permanent_media", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/material/add_material",
		Params: []Param{query("media_type", "type", tString), file("media_file", "media")}},
	{Name: "upload_permanent_video", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/material/add_material",
		Params: []Param{local("title", tString), local("introduction", tString), file("video", "media")},
		build: func(_ *Client, a *args, r *request, _ map[string]any) error {
			r.query.Set("type", "video")
			desc, err := encodeJSON(map[string]any{"title": a.str("title"), "introduction": a.str("introduction")})
			if err != nil {
				return err
			}
			r.form.fields = append(r.form.fields, [2]string{"description", string(desc)})
			return nil
		}},
	{Name: "download_permanent_media", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/material/get_material", Result: ResultMedia,
		Params: []Param{body("media_id", "media_id", tString), saveAs},
		Note:   "news and video answers are JSON (content type application/json)"},
	{Name: "delete_permanent_media", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/material/del_material",
		Params: []Param{body("media_id", "media_id", tString)}},
	{Name: "upload_news", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/media/uploadnews",
		Params: []Param{body("articles", "articles", tList)}},
	{Name: "update_news", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/material/update_news",
		Params: []Param{whole("update_data", tTable)}},
	{Name: "get_media_count", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/material/get_materialcount"},
	{Name: "get_media_list", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/material/batchget_material",
		Params: []Param{body("media_type", "type", tString), body("offset", "offset", tInt), body("count", "count", tInt)}},

	// Tags.
	{Name: "create_tag", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/tags/create",
		Params: []Param{body("tag_name", "tag.name", tString)}},
	{Name: "get_tags", Source: srcWeRoBot, HTTPMethod: get, Path: "/cgi-bin/tags/get"},
	{Name: "update_tag", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/tags/update",
		Params: []Param{body("tag_id", "tag.id", tInt), body("tag_name", "tag.name", tString)}},
	{Name: "delete_tag", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/tags/delete",
		Params: []Param{body("tag_id", "tag.id", tInt)}},
	{Name: "get_users_by_tag", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/user/tag/get",
		Params: []Param{body("tag_id", "tagid", tInt), body("next_open_id", "next_openid", tString).def("")}},
	{Name: "tag_users", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/tags/members/batchtagging",
		Params: []Param{body("tag_id", "tagid", tInt), body("open_id_list", "openid_list", tList)}},
	{Name: "untag_users", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/tags/members/batchuntagging",
		Params: []Param{body("tag_id", "tagid", tInt), body("open_id_list", "openid_list", tList)}},
	{Name: "get_tags_by_user", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/tags/getidlist",
		Params: []Param{body("open_id", "openid", tString)}},

	// Template messages.
	{Name: "send_template_message", Source: srcWeRoBot, HTTPMethod: post, Path: "/cgi-bin/message/template/send",
		Params: []Param{body("user_id", "touser", tString), body("template_id", "template_id", tString),
			body("data", "data", tTable), body("url", "url", tString).def(""), local("miniprogram", tAny).opt()},
		Note: "a string as 5th argument is wechat-python-sdk's topcolor",
		build: func(_ *Client, a *args, _ *request, b map[string]any) error {
			switch v := a.val("miniprogram").(type) {
			case nil:
			case map[string]any:
				b["miniprogram"] = v
			case string:
				b["topcolor"] = v
			default:
				return &ArgError{Method: a.m.Name, Msg: "argument #5 (miniprogram) must be a table (or a topcolor string), got " + describe(v)}
			}
			return nil
		}},
	{Name: "set_template_industry", Source: srcPySDK, HTTPMethod: post, Path: "/cgi-bin/template/api_set_industry",
		Params: []Param{body("industry_id1", "industry_id1", tString), body("industry_id2", "industry_id2", tString)}},
	{Name: "get_template_id", Source: srcPySDK, HTTPMethod: post, Path: "/cgi-bin/template/api_add_template",
		Params: []Param{body("template_id_short", "template_id_short", tString)}},

	// Subscription messages (订阅通知), the successor of template messages.
	{Name: "add_subscribe_template", Source: srcWeChat, HTTPMethod: post, Path: "/wxaapi/newtmpl/addtemplate",
		Params: []Param{body("tid", "tid", tString), body("kid_list", "kidList", tList), body("scene_desc", "sceneDesc", tString).opt()},
		Note:   "picks a template of the public library (tid) with its keywords (kid_list, 2 to 5 ids); returns priTmplId"},
	{Name: "delete_subscribe_template", Source: srcWeChat, HTTPMethod: post, Path: "/wxaapi/newtmpl/deltemplate",
		Params: []Param{body("pri_tmpl_id", "priTmplId", tString)}},
	{Name: "get_subscribe_category", Source: srcWeChat, HTTPMethod: get, Path: "/wxaapi/newtmpl/getcategory"},
	{Name: "get_subscribe_template_keywords", Source: srcWeChat, HTTPMethod: get, Path: "/wxaapi/newtmpl/getpubtemplatekeywords",
		Params: []Param{query("tid", "tid", tString)}},
	{Name: "get_subscribe_template_titles", Source: srcWeChat, HTTPMethod: get, Path: "/wxaapi/newtmpl/getpubtemplatetitles",
		Params: []Param{local("ids", tAny), query("start", "start", tInt).def(int64(0)), query("limit", "limit", tInt).def(int64(30))},
		Note:   "ids: the category ids, a list or a comma-separated string; limit at most 30",
		build: func(_ *Client, a *args, r *request, _ map[string]any) error {
			ids, err := commaList(a.val("ids"))
			if err != nil {
				return &ArgError{Method: a.m.Name, Msg: "argument #1 (ids) " + err.Error()}
			}
			r.query.Set("ids", ids)
			return nil
		}},
	{Name: "get_subscribe_templates", Source: srcWeChat, HTTPMethod: get, Path: "/wxaapi/newtmpl/gettemplate"},
	{Name: "send_subscribe_message", Source: srcWeChat, HTTPMethod: post, Path: "/cgi-bin/message/subscribe/bizsend",
		Params: []Param{body("user_id", "touser", tString), body("template_id", "template_id", tString),
			body("data", "data", tTable), body("page", "page", tString).opt(), body("miniprogram", "miniprogram", tTable).opt()},
		Note: "as send_template_message: page is the web page to open, miniprogram {appid=, pagepath=} the mini program"},

	// JS-SDK.
	{Name: "grant_jsapi_ticket", Source: srcPySDK, HTTPMethod: get, Path: "/cgi-bin/ticket/getticket",
		Params: []Param{local("override", tBool).def(true)},
		Note:   "fetches a new ticket now and caches it; override=false fetches none and returns the cached one as {ticket=, expires_in=}",
		local:  grantJSAPITicket},
	{Name: "get_jsapi_ticket", Source: srcPySDK, Result: ResultString, Path: "/cgi-bin/ticket/getticket",
		Note:  "the cached ticket, fetched when needed",
		local: current("get_jsapi_ticket", func(c *Client) *credential { return c.ticket })},
	{Name: "generate_jsapi_signature", Source: srcPySDK, Result: ResultString,
		Params: []Param{local("timestamp", tString), local("noncestr", tString), local("url", tString), local("jsapi_ticket", tString).opt()},
		Note:   "sha1 of jsapi_ticket, noncestr, timestamp and url; the ticket is fetched when not given",
		local: func(ctx context.Context, c *Client, a *args) (any, error) {
			ticket := a.str("jsapi_ticket")
			if ticket == "" {
				t, err := c.ticket.get(ctx)
				if err != nil {
					return nil, wrapMethod("generate_jsapi_signature", err)
				}
				ticket = t
			}
			return JSAPISignature(ticket, a.str("noncestr"), a.str("timestamp"), a.str("url")), nil
		}},

	// OAuth web authorization.
	{Name: "oauth_authorize_url", Source: srcOAuth, Result: ResultString, Path: "/connect/oauth2/authorize", host: hostOpen,
		Params: []Param{local("redirect_uri", tString), local("scope", tString).def("snsapi_base"), local("state", tString).def("")},
		Note:   "the URL to send the user to; served by open.weixin.qq.com",
		local: func(_ context.Context, c *Client, a *args) (any, error) {
			// WeChat checks the order of these parameters, so url.Values
			// (which sorts them) cannot build this URL.
			return c.openBase + "/connect/oauth2/authorize?appid=" + url.QueryEscape(c.appID) +
				"&redirect_uri=" + url.QueryEscape(a.str("redirect_uri")) +
				"&response_type=code&scope=" + url.QueryEscape(a.str("scope")) +
				"&state=" + url.QueryEscape(a.str("state")) + "#wechat_redirect", nil
		}},
	{Name: "oauth_fetch_access_token", Source: srcOAuth, HTTPMethod: get, Path: "/sns/oauth2/access_token", auth: authNone,
		Params: []Param{query("code", "code", tString)},
		Note:   "code → the user's access_token, refresh_token, openid, scope",
		build: func(c *Client, _ *args, r *request, _ map[string]any) error {
			r.query.Set("appid", c.appID)
			r.query.Set("secret", c.secret)
			r.query.Set("grant_type", "authorization_code")
			return nil
		}},
	{Name: "oauth_refresh_access_token", Source: srcOAuth, HTTPMethod: get, Path: "/sns/oauth2/refresh_token", auth: authNone,
		Params: []Param{query("refresh_token", "refresh_token", tString)},
		build: func(c *Client, _ *args, r *request, _ map[string]any) error {
			r.query.Set("appid", c.appID)
			r.query.Set("grant_type", "refresh_token")
			return nil
		}},
	{Name: "oauth_get_user_info", Source: srcOAuth, HTTPMethod: get, Path: "/sns/userinfo", auth: authNone,
		Params: []Param{query("openid", "openid", tString), query("access_token", "access_token", tString), query("lang", "lang", tString).def("zh_CN")},
		Note:   "needs the snsapi_userinfo scope"},
	{Name: "oauth_check_access_token", Source: srcOAuth, HTTPMethod: get, Path: "/sns/auth", auth: authNone,
		Params: []Param{query("openid", "openid", tString), query("access_token", "access_token", tString)}},
}

// current answers get_access_token and get_jsapi_ticket: the cached value,
// fetched when needed.
func current(method string, which func(*Client) *credential) func(context.Context, *Client, *args) (any, error) {
	return func(ctx context.Context, c *Client, _ *args) (any, error) {
		v, err := which(c).get(ctx)
		if err != nil {
			return nil, wrapMethod(method, err)
		}
		return v, nil
	}
}

// grantToken answers grant_token(override). wechat-python-sdk fetches a
// token either way and override only says whether to keep it; but a new
// token from /cgi-bin/token invalidates the cached one that every process
// of this account is using, so a fetch that is not kept would only break
// them. override=false therefore fetches nothing: it returns the cached
// token (fetched and cached if there is none) in the shape of WeChat's
// answer, expires_in being the seconds it is still used for.
func grantToken(ctx context.Context, c *Client, a *args) (any, error) {
	if a.val("override") != true {
		t, err := c.access.current(ctx)
		if err != nil {
			return nil, wrapMethod("grant_token", err)
		}
		return map[string]any{"access_token": t.Value, "expires_in": c.secondsLeft(t)}, nil
	}
	_, raw, err := c.access.refresh(ctx, true)
	return raw, err
}

// grantJSAPITicket answers grant_jsapi_ticket(override) as grantToken does.
func grantJSAPITicket(ctx context.Context, c *Client, a *args) (any, error) {
	if a.val("override") != true {
		t, err := c.ticket.current(ctx)
		if err != nil {
			return nil, wrapMethod("grant_jsapi_ticket", err)
		}
		return map[string]any{"errcode": int64(0), "errmsg": "ok", "ticket": t.Value, "expires_in": c.secondsLeft(t)}, nil
	}
	_, raw, err := c.ticket.refresh(ctx, true)
	return raw, err
}

// secondsLeft is how long a cached credential is still used, in whole
// seconds (as WeChat's expires_in).
func (c *Client) secondsLeft(t store.Token) int64 {
	s := int64(t.Expires.Sub(c.now()) / time.Second)
	if s < 0 {
		return 0
	}
	return s
}

// JSAPISignature signs a page URL for the JS-SDK (wx.config): the sha1 hex
// of "jsapi_ticket=...&noncestr=...&timestamp=...&url=..." with the url
// taken without its #fragment.
func JSAPISignature(ticket, noncestr, timestamp, pageURL string) string {
	if i := strings.IndexByte(pageURL, '#'); i >= 0 {
		pageURL = pageURL[:i]
	}
	sum := sha1.Sum([]byte("jsapi_ticket=" + ticket + "&noncestr=" + noncestr + "&timestamp=" + timestamp + "&url=" + pageURL))
	return hex.EncodeToString(sum[:])
}

// commaList reads a list of ids for a query parameter: a list (of strings
// or numbers), or a string already comma-separated.
func commaList(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, ok := convert(tString, e)
			if !ok {
				return "", fmt.Errorf("item %d must be a string or a number, got %s", i+1, describe(e))
			}
			parts[i] = s.(string)
		}
		return strings.Join(parts, ","), nil
	}
	if s, ok := convert(tString, v); ok {
		return s.(string), nil
	}
	return "", fmt.Errorf("must be a list of ids or a comma-separated string, got %s", describe(v))
}

// newsArticles turns the articles of send_article_message into WeChat's
// form. WeRoBot takes dicts with picurl or Article objects with img; Lua
// scripts also have robot.reply.articles' {title=, description=, img=, url=}
// and the {title, description, img, url} lists of handler returns.
func newsArticles(list []any) ([]any, error) {
	out := make([]any, len(list))
	for i, e := range list {
		art := map[string]any{}
		switch e := e.(type) {
		case map[string]any:
			for k, v := range e {
				art[k] = v
			}
			if img, ok := art["img"]; ok {
				if _, has := art["picurl"]; !has {
					art["picurl"] = img
				}
				delete(art, "img")
			}
		case []any:
			if len(e) != 4 {
				return nil, fmt.Errorf("article %d: a list must be {title, description, img, url}", i+1)
			}
			art = map[string]any{"title": e[0], "description": e[1], "picurl": e[2], "url": e[3]}
		default:
			return nil, fmt.Errorf("article %d must be a table, got %s", i+1, describe(e))
		}
		out[i] = art
	}
	return out, nil
}

// massContent is the per-type member of a mass message: text has content,
// cards a card_id, every other type a media_id. A table is sent as it is.
func massContent(msgType string, content any) (any, error) {
	switch v := content.(type) {
	case map[string]any:
		return v, nil
	case string:
		switch msgType {
		case "text":
			return map[string]any{"content": v}, nil
		case "wxcard":
			return map[string]any{"card_id": v}, nil
		default:
			return map[string]any{"media_id": v}, nil
		}
	}
	return nil, fmt.Errorf("argument #2 (content) must be a string or a table, got %s", describe(content))
}

// massType maps WeRoBot's msg_type to the mass API's msgtype: the mass API
// calls videos mpvideo.
func massType(msgType string) string {
	if msgType == "video" {
		return "mpvideo"
	}
	return msgType
}

func buildMassMsg(_ *Client, a *args, r *request, b map[string]any) error {
	t := massType(a.str("msg_type"))
	content, err := massContent(t, a.val("content"))
	if err != nil {
		return &ArgError{Method: a.m.Name, Msg: err.Error()}
	}
	b["msgtype"] = t
	b[t] = content
	b["send_ignore_reprint"] = 0
	if a.val("send_ignore_reprint") == true {
		b["send_ignore_reprint"] = 1
	}
	users := a.val("user_list")
	if m, ok := users.(map[string]any); ok && len(m) == 0 {
		users = []any{} // Lua's {} is an empty list here
	}
	switch v := users.(type) {
	case nil:
		b["filter"] = map[string]any{"is_to_all": true}
	case []any:
		r.path = "/cgi-bin/message/mass/send"
		b["touser"] = v
	default:
		id, ok := convert(tInt, v)
		if !ok {
			return &ArgError{Method: a.m.Name, Msg: "argument #3 (user_list) must be a list of openids, a tag id or nil, got " + describe(v)}
		}
		b["filter"] = map[string]any{"is_to_all": false, "tag_id": id}
	}
	return nil
}

func buildMassPreview(_ *Client, a *args, _ *request, b map[string]any) error {
	t := massType(a.str("msg_type"))
	content, err := massContent(t, a.val("content"))
	if err != nil {
		return &ArgError{Method: a.m.Name, Msg: err.Error()}
	}
	b["msgtype"] = t
	b[t] = content
	switch a.str("user_type") {
	case "openid":
		b["touser"] = a.str("user")
	case "wxname":
		b["towxname"] = a.str("user")
	default:
		return &ArgError{Method: a.m.Name, Msg: fmt.Sprintf("argument #4 (user_type) must be \"openid\" or \"wxname\", got %q", a.str("user_type"))}
	}
	return nil
}

// renameUpload applies upload_media's extension argument: wechat-python-sdk
// takes it for file objects without a name; here it overrides the file's
// own extension, which WeChat uses to check the media format.
func renameUpload(_ *Client, a *args, r *request, _ map[string]any) error {
	ext := a.str("extension")
	if ext == "" || r.form == nil || len(r.form.files) == 0 {
		return nil
	}
	f := &r.form.files[0]
	f.name = replaceExt(f.name, ext)
	return nil
}
