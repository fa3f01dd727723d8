package luaapi

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
)

// Helpers here are prefixed with client so that they do not collide with
// the rest of the package's tests.

type clientTestEnv struct {
	wx       *fakewechat.Server
	c        *client.Client
	L        *lua.LState
	mediaDir string
}

func newClientTestEnv(t *testing.T) *clientTestEnv {
	t.Helper()
	wx := fakewechat.New("wxtestapp", "testsecret")
	t.Cleanup(wx.Close)
	dir := t.TempDir()
	for name, data := range map[string]string{"a.jpg": "\xff\xd8jpeg", "v.mp4": "mp4", "avatar.jpg": "\xff\xd8avatar"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(client.Options{
		AppID: "wxtestapp", AppSecret: "testsecret", APIBase: wx.URL, MediaDir: dir,
		Timeout: 5 * time.Second,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState()
	t.Cleanup(L.Close)
	L.SetGlobal("client", newClientTable(L, c, nil))
	return &clientTestEnv{wx: wx, c: c, L: L, mediaDir: dir}
}

// run executes a chunk and returns what it returns.
func (e *clientTestEnv) run(t *testing.T, chunk string) []lua.LValue {
	t.Helper()
	top := e.L.GetTop()
	if err := e.L.DoString(chunk); err != nil {
		t.Fatalf("%s: %v", chunk, err)
	}
	n := e.L.GetTop() - top
	out := make([]lua.LValue, n)
	for i := 0; i < n; i++ {
		out[i] = e.L.Get(top + 1 + i)
	}
	e.L.SetTop(top)
	return out
}

// clientCase is one call from Lua and what WeChat must receive.
type clientCase struct {
	method string // the robot.client method the case covers
	lua    string // the call expression
	http   string // expected HTTP method; "" when no request is checked
	path   string
	query  map[string]string // query parameters that must be present
	body   string            // the exact JSON body ("" for none)
	file   string            // the file name of the multipart "media" part
	form   map[string]string // other multipart fields
	// noToken: the request must not carry the account's access token.
	noToken bool
	// check is a Lua condition on res (the first result) and extra (the
	// second).
	check string
}

const (
	clientArticle     = `{title="标题", thumb_media_id="T", author="A", digest="D", show_cover_pic=1, content="<p>正文</p>", content_source_url="http://x/?a=1&b=2"}`
	clientArticleJSON = `{"author":"A","content":"<p>正文</p>","content_source_url":"http://x/?a=1&b=2","digest":"D","show_cover_pic":1,"thumb_media_id":"T","title":"标题"}`
)

var clientCases = []clientCase{
	{method: "grant_token", lua: `client.grant_token()`, http: "GET", path: "/cgi-bin/token", noToken: true,
		query: map[string]string{"grant_type": "client_credential", "appid": "wxtestapp", "secret": "testsecret"},
		check: `res.access_token ~= nil and res.expires_in == 7200`},
	{method: "get_access_token", lua: `client.get_access_token()`, check: `type(res) == "string" and #res > 0`},
	{method: "get_ip_list", lua: `client.get_ip_list()`, http: "GET", path: "/cgi-bin/getcallbackip",
		check: `res.ip_list[1] == "101.226.62.77"`},
	{method: "create_menu",
		lua:  `client.create_menu{button={{type="click", name="今日歌曲", key="V1001_TODAY_MUSIC"}, {name="菜单", sub_button={{type="view", name="搜索", url="http://www.soso.com/?a=1&b=2"}}}}}`,
		http: "POST", path: "/cgi-bin/menu/create",
		body:  `{"button":[{"key":"V1001_TODAY_MUSIC","name":"今日歌曲","type":"click"},{"name":"菜单","sub_button":[{"name":"搜索","type":"view","url":"http://www.soso.com/?a=1&b=2"}]}]}`,
		check: `res.errcode == 0 and res.errmsg == "ok"`},
	{method: "get_menu", lua: `client.get_menu()`, http: "GET", path: "/cgi-bin/menu/get", check: `res.menu ~= nil`},
	{method: "delete_menu", lua: `client.delete_menu()`, http: "GET", path: "/cgi-bin/menu/delete", check: `res.errmsg == "ok"`},
	{method: "create_custom_menu",
		lua:  `client.create_custom_menu({{type="click", name="今日歌曲", key="K"}}, {tag_id="2", sex="1", country="中国"})`,
		http: "POST", path: "/cgi-bin/menu/addconditional",
		body:  `{"button":[{"key":"K","name":"今日歌曲","type":"click"}],"matchrule":{"country":"中国","sex":"1","tag_id":"2"}}`,
		check: `res.menuid == "208379533"`},
	{method: "create_custom_menu", lua: `client.create_custom_menu({button={{type="click", name="n", key="K"}}}, {sex="2"})`,
		http: "POST", path: "/cgi-bin/menu/addconditional",
		body: `{"button":[{"key":"K","name":"n","type":"click"}],"matchrule":{"sex":"2"}}`},
	{method: "delete_custom_menu", lua: `client.delete_custom_menu("208379533")`, http: "POST", path: "/cgi-bin/menu/delconditional",
		body: `{"menuid":"208379533"}`},
	{method: "match_custom_menu", lua: `client.match_custom_menu("weixin")`, http: "POST", path: "/cgi-bin/menu/trymatch",
		body: `{"user_id":"weixin"}`, check: `res.button ~= nil`},
	{method: "get_custom_menu_config", lua: `client.get_custom_menu_config()`, http: "GET", path: "/cgi-bin/get_current_selfmenu_info",
		check: `res.is_menu_open == 1`},
	{method: "add_custom_service_account", lua: `client.add_custom_service_account("kf2001@gh_test", "客服1", "pswmd5")`,
		http: "POST", path: "/customservice/kfaccount/add",
		body: `{"kf_account":"kf2001@gh_test","nickname":"客服1","password":"pswmd5"}`},
	{method: "add_custom_service_account", lua: `client.add_custom_service_account("kf2001@gh_test", "客服1")`,
		http: "POST", path: "/customservice/kfaccount/add", body: `{"kf_account":"kf2001@gh_test","nickname":"客服1"}`},
	{method: "update_custom_service_account", lua: `client.update_custom_service_account("kf2001@gh_test", "客服2", "pswmd5")`,
		http: "POST", path: "/customservice/kfaccount/update",
		body: `{"kf_account":"kf2001@gh_test","nickname":"客服2","password":"pswmd5"}`},
	{method: "delete_custom_service_account", lua: `client.delete_custom_service_account("kf2001@gh_test", "客服1", "pswmd5")`,
		http: "GET", path: "/customservice/kfaccount/del", query: map[string]string{"kf_account": "kf2001@gh_test"}},
	{method: "upload_custom_service_account_avatar", lua: `client.upload_custom_service_account_avatar("kf2001@gh_test", "avatar.jpg")`,
		http: "POST", path: "/customservice/kfaccount/uploadheadimg", query: map[string]string{"kf_account": "kf2001@gh_test"},
		file: "avatar.jpg"},
	{method: "get_custom_service_account_list", lua: `client.get_custom_service_account_list()`, http: "GET",
		path: "/cgi-bin/customservice/getkflist", check: `res.kf_list ~= nil`},
	{method: "get_online_custom_service_account_list", lua: `client.get_online_custom_service_account_list()`, http: "GET",
		path: "/cgi-bin/customservice/getonlinekflist", check: `res.kf_online_list ~= nil`},
	{method: "send_text_message", lua: `client.send_text_message("OPENID", "你好 <a href=\"http://x/?a=1&b=2\">x</a>")`,
		http: "POST", path: "/cgi-bin/message/custom/send",
		body: `{"msgtype":"text","text":{"content":"你好 <a href=\"http://x/?a=1&b=2\">x</a>"},"touser":"OPENID"}`},
	{method: "send_text_message", lua: `client.send_text_message("OPENID", "hi", "kf2001@gh_test")`,
		http: "POST", path: "/cgi-bin/message/custom/send",
		body: `{"customservice":{"kf_account":"kf2001@gh_test"},"msgtype":"text","text":{"content":"hi"},"touser":"OPENID"}`},
	{method: "send_image_message", lua: `client.send_image_message("OPENID", "MEDIA")`, http: "POST", path: "/cgi-bin/message/custom/send",
		body: `{"image":{"media_id":"MEDIA"},"msgtype":"image","touser":"OPENID"}`},
	{method: "send_voice_message", lua: `client.send_voice_message("OPENID", "MEDIA")`, http: "POST", path: "/cgi-bin/message/custom/send",
		body: `{"msgtype":"voice","touser":"OPENID","voice":{"media_id":"MEDIA"}}`},
	{method: "send_video_message", lua: `client.send_video_message("OPENID", "MEDIA", "标题", nil, "kf")`,
		http: "POST", path: "/cgi-bin/message/custom/send",
		body: `{"customservice":{"kf_account":"kf"},"msgtype":"video","touser":"OPENID","video":{"media_id":"MEDIA","title":"标题"}}`},
	{method: "send_music_message", lua: `client.send_music_message("OPENID", "http://m/1.mp3", "http://m/hq.mp3", "THUMB", "歌", "描述")`,
		http: "POST", path: "/cgi-bin/message/custom/send",
		body: `{"msgtype":"music","music":{"description":"描述","hqmusicurl":"http://m/hq.mp3","musicurl":"http://m/1.mp3","thumb_media_id":"THUMB","title":"歌"},"touser":"OPENID"}`},
	{method: "send_article_message",
		lua:  `client.send_article_message("OPENID", {{title="Happy Day", description="Is Really A Happy Day", url="URL", picurl="PIC_URL"}, {title="T2", description="D2", img="IMG", url="U2"}, {"T3", "D3", "IMG3", "U3"}})`,
		http: "POST", path: "/cgi-bin/message/custom/send",
		body: `{"msgtype":"news","news":{"articles":[{"description":"Is Really A Happy Day","picurl":"PIC_URL","title":"Happy Day","url":"URL"},{"description":"D2","picurl":"IMG","title":"T2","url":"U2"},{"description":"D3","picurl":"IMG3","title":"T3","url":"U3"}]},"touser":"OPENID"}`},
	{method: "send_news_message", lua: `client.send_news_message("OPENID", "MEDIA")`, http: "POST", path: "/cgi-bin/message/custom/send",
		body: `{"mpnews":{"media_id":"MEDIA"},"msgtype":"mpnews","touser":"OPENID"}`},
	{method: "send_miniprogrampage_message",
		lua:  `client.send_miniprogrampage_message("OPENID", "title", "appid", "pages/index/index?foo=bar", "THUMB")`,
		http: "POST", path: "/cgi-bin/message/custom/send",
		body: `{"miniprogrampage":{"appid":"appid","pagepath":"pages/index/index?foo=bar","thumb_media_id":"THUMB","title":"title"},"msgtype":"miniprogrampage","touser":"OPENID"}`},
	{method: "send_mass_msg", lua: `client.send_mass_msg("text", "大家好")`, http: "POST", path: "/cgi-bin/message/mass/sendall",
		body:  `{"filter":{"is_to_all":true},"msgtype":"text","send_ignore_reprint":0,"text":{"content":"大家好"}}`,
		check: `res.msg_id == 34182`},
	{method: "send_mass_msg", lua: `client.send_mass_msg("mpnews", "MEDIA", {"o1", "o2"}, true, "cid")`,
		http: "POST", path: "/cgi-bin/message/mass/send",
		body: `{"clientmsgid":"cid","mpnews":{"media_id":"MEDIA"},"msgtype":"mpnews","send_ignore_reprint":1,"touser":["o1","o2"]}`},
	{method: "send_mass_msg", lua: `client.send_mass_msg("video", "MEDIA", 2)`, http: "POST", path: "/cgi-bin/message/mass/sendall",
		body: `{"filter":{"is_to_all":false,"tag_id":2},"mpvideo":{"media_id":"MEDIA"},"msgtype":"mpvideo","send_ignore_reprint":0}`},
	{method: "delete_mass_msg", lua: `client.delete_mass_msg(30124, 2)`, http: "POST", path: "/cgi-bin/message/mass/delete",
		body: `{"article_idx":2,"msg_id":30124}`},
	{method: "send_mass_preview_to_user", lua: `client.send_mass_preview_to_user("text", "预览", "OPENID")`,
		http: "POST", path: "/cgi-bin/message/mass/preview", body: `{"msgtype":"text","text":{"content":"预览"},"touser":"OPENID"}`},
	{method: "send_mass_preview_to_user", lua: `client.send_mass_preview_to_user("image", "MEDIA", "weixinhao", "wxname")`,
		http: "POST", path: "/cgi-bin/message/mass/preview", body: `{"image":{"media_id":"MEDIA"},"msgtype":"image","towxname":"weixinhao"}`},
	{method: "get_mass_msg_status", lua: `client.get_mass_msg_status("201053012")`, http: "POST", path: "/cgi-bin/message/mass/get",
		body: `{"msg_id":201053012}`, check: `res.msg_status == "SEND_SUCCESS"`},
	{method: "get_mass_msg_speed", lua: `client.get_mass_msg_speed()`, http: "POST", path: "/cgi-bin/message/mass/speed/get",
		body: `{}`, check: `res.speed == 3`},

	// Issue 14: WeRoBot's get, post and set_mass_msg_speed, WeChat's own
	// names, 订阅通知, quotas and diagnostics.
	{method: "send_mass_msg", lua: `client.send_mass_msg("text", "hi", nil, 1)`, http: "POST", path: "/cgi-bin/message/mass/sendall",
		body: `{"filter":{"is_to_all":true},"msgtype":"text","send_ignore_reprint":1,"text":{"content":"hi"}}`},
	{method: "set_mass_msg_speed", lua: `client.set_mass_msg_speed(2)`, http: "POST", path: "/cgi-bin/message/mass/speed/set",
		body: `{"speed":2}`, check: `res.errcode == 0`},
	{method: "get", lua: `client.get("/cgi-bin/user/info", {openid = "o1", lang = "en"})`, http: "GET", path: "/cgi-bin/user/info",
		query: map[string]string{"openid": "o1", "lang": "en"}, check: `res.openid == "o1" and res.language == "en"`},
	{method: "get", lua: `client.get("https://api.weixin.qq.com/cgi-bin/menu/get")`, http: "GET", path: "/cgi-bin/menu/get",
		check: `res.menu ~= nil`},
	{method: "post", lua: `client.post("/cgi-bin/tags/create", {tag = {name = "广东"}})`, http: "POST", path: "/cgi-bin/tags/create",
		body: `{"tag":{"name":"广东"}}`, check: `res.tag.id == 134 and res.tag.name == "广东"`},
	{method: "post", lua: `client.post("/cgi-bin/media/upload?type=image", nil, {media = "a.jpg"})`, http: "POST", path: "/cgi-bin/media/upload",
		query: map[string]string{"type": "image"}, file: "a.jpg", check: `res.media_id ~= nil and res.type == "image"`},
	{method: "post", lua: `client.post("/cgi-bin/material/add_material?type=video", {description = {title = "t", introduction = "i"}}, {media = "v.mp4"})`,
		http: "POST", path: "/cgi-bin/material/add_material", query: map[string]string{"type": "video"}, file: "v.mp4",
		form: map[string]string{"description": `{"introduction":"i","title":"t"}`}, check: `res.media_id ~= nil`},
	{method: "get_callback_ip", lua: `client.get_callback_ip()`, http: "GET", path: "/cgi-bin/getcallbackip",
		check: `res.ip_list[2] == "101.226.62.78"`},
	{method: "get_current_selfmenu_info", lua: `client.get_current_selfmenu_info()`, http: "GET", path: "/cgi-bin/get_current_selfmenu_info",
		check: `res.is_menu_open == 1`},
	{method: "get_api_domain_ip", lua: `client.get_api_domain_ip()`, http: "GET", path: "/cgi-bin/get_api_domain_ip",
		check: `res.ip_list[1] == "101.89.47.18"`},
	{method: "check_callback", lua: `client.check_callback()`, http: "POST", path: "/cgi-bin/callback/check",
		body: `{"action":"all","check_operator":"DEFAULT"}`, check: `res.dns[1].real_operator == "UNICOM" and res.ping[1].package_loss == "0%"`},
	{method: "check_callback", lua: `client.check_callback("dns", "CHINANET")`, http: "POST", path: "/cgi-bin/callback/check",
		body: `{"action":"dns","check_operator":"CHINANET"}`},
	{method: "clear_quota", lua: `client.clear_quota()`, http: "POST", path: "/cgi-bin/clear_quota",
		body: `{"appid":"wxtestapp"}`, check: `res.errcode == 0`},
	{method: "get_api_quota", lua: `client.get_api_quota("/cgi-bin/message/custom/send")`, http: "POST", path: "/cgi-bin/openapi/quota/get",
		body: `{"cgi_path":"/cgi-bin/message/custom/send"}`, check: `res.quota.daily_limit == 10000000 and res.quota.remain == 9999999`},
	{method: "add_subscribe_template", lua: `client.add_subscribe_template("99", {3, 5, 4}, "付款通知")`, http: "POST", path: "/wxaapi/newtmpl/addtemplate",
		body: `{"kidList":[3,5,4],"sceneDesc":"付款通知","tid":"99"}`, check: `res.priTmplId == "9Aw5ZV1j9xdWTFEkqCpZ7mIBbSC34khK55OtzUPl0rU"`},
	{method: "delete_subscribe_template", lua: `client.delete_subscribe_template("9Aw5ZV1j")`, http: "POST", path: "/wxaapi/newtmpl/deltemplate",
		body: `{"priTmplId":"9Aw5ZV1j"}`, check: `res.errcode == 0`},
	{method: "get_subscribe_category", lua: `client.get_subscribe_category()`, http: "GET", path: "/wxaapi/newtmpl/getcategory",
		check: `res.data[1].id == 616 and res.data[1].name == "公交"`},
	{method: "get_subscribe_template_keywords", lua: `client.get_subscribe_template_keywords("99")`, http: "GET", path: "/wxaapi/newtmpl/getpubtemplatekeywords",
		query: map[string]string{"tid": "99"}, check: `res.data[1].rule == "thing"`},
	{method: "get_subscribe_template_titles", lua: `client.get_subscribe_template_titles({616, "617"})`, http: "GET", path: "/wxaapi/newtmpl/getpubtemplatetitles",
		query: map[string]string{"ids": "616,617", "start": "0", "limit": "30"}, check: `res.data[1].categoryId == "616,617"`},
	{method: "get_subscribe_template_titles", lua: `client.get_subscribe_template_titles("616", 30, 10)`, http: "GET", path: "/wxaapi/newtmpl/getpubtemplatetitles",
		query: map[string]string{"ids": "616", "start": "30", "limit": "10"}},
	{method: "get_subscribe_templates", lua: `client.get_subscribe_templates()`, http: "GET", path: "/wxaapi/newtmpl/gettemplate",
		check: `res.data[1].title == "付款成功通知"`},
	{method: "send_subscribe_message", lua: `client.send_subscribe_message("o1", "T", {thing1 = {value = "咖啡"}}, "https://example.com/?a=1&b=2", {appid = "wxa", pagepath = "index"})`,
		http: "POST", path: "/cgi-bin/message/subscribe/bizsend",
		body:  `{"data":{"thing1":{"value":"咖啡"}},"miniprogram":{"appid":"wxa","pagepath":"index"},"page":"https://example.com/?a=1&b=2","template_id":"T","touser":"o1"}`,
		check: `res.errcode == 0`},
	{method: "send_subscribe_message", lua: `client.send_subscribe_message("o1", "T", {thing1 = {value = "x"}})`,
		http: "POST", path: "/cgi-bin/message/subscribe/bizsend",
		body: `{"data":{"thing1":{"value":"x"}},"template_id":"T","touser":"o1"}`},
	{method: "create_group", lua: `client.create_group("test")`, http: "POST", path: "/cgi-bin/groups/create",
		body: `{"group":{"name":"test"}}`, check: `res.group.id == 107 and res.group.name == "test"`},
	{method: "get_groups", lua: `client.get_groups()`, http: "GET", path: "/cgi-bin/groups/get", check: `res.groups[1].name == "未分组"`},
	{method: "get_group_by_id", lua: `client.get_group_by_id("OPENID")`, http: "POST", path: "/cgi-bin/groups/getid",
		body: `{"openid":"OPENID"}`, check: `res.groupid == 0`},
	{method: "update_group", lua: `client.update_group(108, "test2")`, http: "POST", path: "/cgi-bin/groups/update",
		body: `{"group":{"id":108,"name":"test2"}}`},
	{method: "move_user", lua: `client.move_user("OPENID", 108)`, http: "POST", path: "/cgi-bin/groups/members/update",
		body: `{"openid":"OPENID","to_groupid":108}`},
	{method: "move_users", lua: `client.move_users({"o1", "o2"}, 108)`, http: "POST", path: "/cgi-bin/groups/members/batchupdate",
		body: `{"openid_list":["o1","o2"],"to_groupid":108}`},
	{method: "delete_group", lua: `client.delete_group(108)`, http: "POST", path: "/cgi-bin/groups/delete", body: `{"group":{"id":108}}`},
	{method: "remark_user", lua: `client.remark_user("OPENID", "胖子")`, http: "POST", path: "/cgi-bin/user/info/updateremark",
		body: `{"openid":"OPENID","remark":"胖子"}`},
	{method: "get_user_info", lua: `client.get_user_info("OPENID")`, http: "GET", path: "/cgi-bin/user/info",
		query: map[string]string{"openid": "OPENID", "lang": "zh_CN"}, check: `res.nickname == "测试用户" and res.openid == "OPENID"`},
	{method: "get_users_info", lua: `client.get_users_info({"o1", "o2"}, "en")`, http: "POST", path: "/cgi-bin/user/info/batchget",
		body:  `{"user_list":[{"lang":"en","openid":"o1"},{"lang":"en","openid":"o2"}]}`,
		check: `res.user_info_list[2].openid == "o2"`},
	{method: "create_qrcode", lua: `client.create_qrcode{expire_seconds=604800, action_name="QR_SCENE", action_info={scene={scene_id=123}}}`,
		http: "POST", path: "/cgi-bin/qrcode/create",
		body:  `{"action_info":{"scene":{"scene_id":123}},"action_name":"QR_SCENE","expire_seconds":604800}`,
		check: `res.ticket ~= nil and res.expire_seconds == 60`},
	{method: "show_qrcode", lua: `client.show_qrcode("TICKET+/=")`, http: "GET", path: "/cgi-bin/showqrcode", noToken: true,
		query: map[string]string{"ticket": "TICKET+/="}, check: `res:sub(1, 2) == "\255\216" and extra == "image/jpeg"`},
	{method: "get_followers", lua: `client.get_followers()`, http: "GET", path: "/cgi-bin/user/get",
		check: `res.data.openid[1] == "OPENID1" and res.next_openid == "OPENID2"`},
	{method: "get_followers", lua: `client.get_followers("OPENID2")`, http: "GET", path: "/cgi-bin/user/get",
		query: map[string]string{"next_openid": "OPENID2"}},
	{method: "upload_media", lua: `client.upload_media("image", "a.jpg")`, http: "POST", path: "/cgi-bin/media/upload",
		query: map[string]string{"type": "image"}, file: "a.jpg", check: `res.media_id ~= nil and res.type == "image"`},
	{method: "download_media", lua: `client.download_media("MEDIA")`, http: "GET", path: "/cgi-bin/media/get",
		query: map[string]string{"media_id": "MEDIA"}, check: `res == "\255\216\255\224\0\16JFIF\0fake image\255\217" and extra == "image/jpeg"`},
	{method: "add_news", lua: `client.add_news{` + clientArticle + `}`, http: "POST", path: "/cgi-bin/material/add_news",
		body: `{"articles":[` + clientArticleJSON + `]}`, check: `res.media_id ~= nil`},
	{method: "upload_news_picture", lua: `client.upload_news_picture("a.jpg")`, http: "POST", path: "/cgi-bin/media/uploadimg",
		file: "a.jpg", check: `res.url ~= nil`},
	{method: "upload_permanent_media", lua: `client.upload_permanent_media("thumb", "a.jpg")`, http: "POST",
		path: "/cgi-bin/material/add_material", query: map[string]string{"type": "thumb"}, file: "a.jpg", check: `res.media_id ~= nil`},
	{method: "upload_permanent_video", lua: `client.upload_permanent_video("标题", "介绍", "v.mp4")`, http: "POST",
		path: "/cgi-bin/material/add_material", query: map[string]string{"type": "video"}, file: "v.mp4",
		form: map[string]string{"description": `{"introduction":"介绍","title":"标题"}`}},
	{method: "download_permanent_media", lua: `client.download_permanent_media("MEDIA")`, http: "POST",
		path: "/cgi-bin/material/get_material", body: `{"media_id":"MEDIA"}`, check: `#res > 0 and extra == "image/jpeg"`},
	{method: "delete_permanent_media", lua: `client.delete_permanent_media("MEDIA")`, http: "POST",
		path: "/cgi-bin/material/del_material", body: `{"media_id":"MEDIA"}`},
	{method: "upload_news", lua: `client.upload_news{` + clientArticle + `}`, http: "POST", path: "/cgi-bin/media/uploadnews",
		body: `{"articles":[` + clientArticleJSON + `]}`, check: `res.type == "news"`},
	{method: "update_news", lua: `client.update_news{media_id="MEDIA", index=0, articles=` + clientArticle + `}`, http: "POST",
		path: "/cgi-bin/material/update_news", body: `{"articles":` + clientArticleJSON + `,"index":0,"media_id":"MEDIA"}`},
	{method: "get_media_count", lua: `client.get_media_count()`, http: "GET", path: "/cgi-bin/material/get_materialcount",
		check: `res.image_count == 0`},
	{method: "get_media_list", lua: `client.get_media_list("image", 0, 20)`, http: "POST", path: "/cgi-bin/material/batchget_material",
		body: `{"count":20,"offset":0,"type":"image"}`, check: `res.item_count == 0`},
	{method: "create_tag", lua: `client.create_tag("广东")`, http: "POST", path: "/cgi-bin/tags/create",
		body: `{"tag":{"name":"广东"}}`, check: `res.tag.id == 134 and res.tag.name == "广东"`},
	{method: "get_tags", lua: `client.get_tags()`, http: "GET", path: "/cgi-bin/tags/get", check: `res.tags[1].name == "星标组"`},
	{method: "update_tag", lua: `client.update_tag(134, "广东人")`, http: "POST", path: "/cgi-bin/tags/update",
		body: `{"tag":{"id":134,"name":"广东人"}}`},
	{method: "delete_tag", lua: `client.delete_tag(134)`, http: "POST", path: "/cgi-bin/tags/delete", body: `{"tag":{"id":134}}`},
	{method: "get_users_by_tag", lua: `client.get_users_by_tag(134)`, http: "POST", path: "/cgi-bin/user/tag/get",
		body: `{"next_openid":"","tagid":134}`, check: `res.count == 0`},
	{method: "tag_users", lua: `client.tag_users(134, {"o1", "o2"})`, http: "POST", path: "/cgi-bin/tags/members/batchtagging",
		body: `{"openid_list":["o1","o2"],"tagid":134}`},
	{method: "untag_users", lua: `client.untag_users(134, {"o1"})`, http: "POST", path: "/cgi-bin/tags/members/batchuntagging",
		body: `{"openid_list":["o1"],"tagid":134}`},
	{method: "get_tags_by_user", lua: `client.get_tags_by_user("OPENID")`, http: "POST", path: "/cgi-bin/tags/getidlist",
		body: `{"openid":"OPENID"}`, check: `res.tagid_list ~= nil`},
	{method: "send_template_message",
		lua:  `client.send_template_message("OPENID", "TID", {first={value="恭喜你购买成功！", color="#173177"}}, "http://weixin.qq.com/download?a=1&b=2", {appid="xiaochengxuappid12345", pagepath="index?foo=bar"})`,
		http: "POST", path: "/cgi-bin/message/template/send",
		body:  `{"data":{"first":{"color":"#173177","value":"恭喜你购买成功！"}},"miniprogram":{"appid":"xiaochengxuappid12345","pagepath":"index?foo=bar"},"template_id":"TID","touser":"OPENID","url":"http://weixin.qq.com/download?a=1&b=2"}`,
		check: `res.msgid == 200228332`},
	{method: "send_template_message", lua: `client.send_template_message("OPENID", "TID", {k={value="v"}})`,
		http: "POST", path: "/cgi-bin/message/template/send", body: `{"data":{"k":{"value":"v"}},"template_id":"TID","touser":"OPENID","url":""}`},
	{method: "send_template_message", lua: `client.send_template_message("OPENID", "TID", {k={value="v"}}, "u", "#FF0000")`,
		http: "POST", path: "/cgi-bin/message/template/send",
		body: `{"data":{"k":{"value":"v"}},"template_id":"TID","topcolor":"#FF0000","touser":"OPENID","url":"u"}`},
	{method: "set_template_industry", lua: `client.set_template_industry("1", "4")`, http: "POST",
		path: "/cgi-bin/template/api_set_industry", body: `{"industry_id1":"1","industry_id2":"4"}`},
	{method: "get_template_id", lua: `client.get_template_id("TM00015")`, http: "POST", path: "/cgi-bin/template/api_add_template",
		body: `{"template_id_short":"TM00015"}`, check: `res.template_id ~= nil`},
	{method: "grant_jsapi_ticket", lua: `client.grant_jsapi_ticket()`, http: "GET", path: "/cgi-bin/ticket/getticket",
		query: map[string]string{"type": "jsapi"}, check: `res.ticket ~= nil and res.expires_in == 7200`},
	{method: "get_jsapi_ticket", lua: `client.get_jsapi_ticket()`, check: `type(res) == "string" and res:find("JSAPI_TICKET_") == 1`},
	{method: "generate_jsapi_signature",
		lua:   `client.generate_jsapi_signature(1414587457, "Wm3WZYTPz0wzccnW", "http://mp.weixin.qq.com?params=value", "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg")`,
		check: `res == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"`},
	{method: "generate_jsapi_signature", lua: `client.generate_jsapi_signature("1", "n", "http://x/")`,
		check: `type(res) == "string" and #res == 40`},
	{method: "oauth_authorize_url", lua: `client.oauth_authorize_url("https://example.com/cb?x=1", "snsapi_userinfo", "xyz")`,
		check: `res:find("/connect/oauth2/authorize?appid=wxtestapp&redirect_uri=https%3A%2F%2Fexample.com%2Fcb%3Fx%3D1&response_type=code&scope=snsapi_userinfo&state=xyz#wechat_redirect", 1, true) ~= nil`},
	{method: "oauth_fetch_access_token", lua: `client.oauth_fetch_access_token("CODE")`, http: "GET", path: "/sns/oauth2/access_token",
		noToken: true, query: map[string]string{"appid": "wxtestapp", "secret": "testsecret", "code": "CODE", "grant_type": "authorization_code"},
		check: `res.openid == "OPENID_CODE" and res.refresh_token == "REFRESH_TOKEN_CODE"`},
	{method: "oauth_refresh_access_token", lua: `client.oauth_refresh_access_token("REFRESH_TOKEN_CODE")`, http: "GET",
		path: "/sns/oauth2/refresh_token", noToken: true,
		query: map[string]string{"appid": "wxtestapp", "grant_type": "refresh_token", "refresh_token": "REFRESH_TOKEN_CODE"},
		check: `res.access_token == "OAUTH_TOKEN_CODE"`},
	{method: "oauth_get_user_info", lua: `client.oauth_get_user_info("OPENID", "OAUTH_TOKEN")`, http: "GET", path: "/sns/userinfo",
		noToken: true, query: map[string]string{"openid": "OPENID", "access_token": "OAUTH_TOKEN", "lang": "zh_CN"},
		check: `res.nickname == "测试用户"`},
	{method: "oauth_check_access_token", lua: `client.oauth_check_access_token("OPENID", "OAUTH_TOKEN")`, http: "GET",
		path: "/sns/auth", noToken: true, query: map[string]string{"openid": "OPENID", "access_token": "OAUTH_TOKEN"},
		check: `res.errcode == 0`},
}

// TestClientMethodsFromLua calls every method from Lua against the fake
// WeChat and checks the request (path, method, query, body, upload) and the
// result that comes back to Lua.
func TestClientMethodsFromLua(t *testing.T) {
	e := newClientTestEnv(t)
	for _, tc := range clientCases {
		t.Run(tc.method, func(t *testing.T) {
			e.wx.Reset()
			out := e.run(t, `local res, extra = `+tc.lua+`
				if res == nil then error("call failed: " .. tostring(extra)) end
				local ok = true
				`+clientCheck(tc.check)+`
				return ok, res, extra`)
			if out[0] != lua.LTrue {
				t.Errorf("%s: check %q failed; res = %s, extra = %s", tc.lua, tc.check, clientShow(out[1]), clientShow(out[2]))
			}
			if tc.path == "" {
				return
			}
			calls := e.wx.CallsTo(tc.path)
			if len(calls) != 1 {
				t.Fatalf("%s: %d calls to %s, want 1 (all calls: %v)", tc.lua, len(calls), tc.path, clientCallPaths(e.wx.Calls()))
			}
			for _, other := range e.wx.Calls() {
				if other.Path != tc.path && other.Path != "/cgi-bin/token" {
					t.Errorf("%s: unexpected call to %s", tc.lua, other.Path)
				}
			}
			call := calls[0]
			if call.Method != tc.http {
				t.Errorf("%s: HTTP %s, want %s", tc.lua, call.Method, tc.http)
			}
			if tc.noToken {
				if call.AccessToken != "" && call.AccessToken == e.wx.AccessToken() {
					t.Errorf("%s: sent the account's access token", tc.lua)
				}
			} else if call.AccessToken == "" || call.AccessToken != e.wx.AccessToken() {
				t.Errorf("%s: access_token %q, want %q", tc.lua, call.AccessToken, e.wx.AccessToken())
			}
			for k, v := range tc.query {
				if got := call.Query.Get(k); got != v {
					t.Errorf("%s: query %s = %q, want %q", tc.lua, k, got, v)
				}
			}
			switch {
			case tc.file != "":
				f, ok := call.Files["media"]
				if !ok || f.Name != tc.file || len(f.Data) == 0 {
					t.Errorf("%s: media part %+v, want file %s", tc.lua, f, tc.file)
				}
				for k, v := range tc.form {
					if got := call.Form.Get(k); got != v {
						t.Errorf("%s: form %s = %s, want %s", tc.lua, k, got, v)
					}
				}
			case string(call.RawBody) != tc.body:
				t.Errorf("%s:\nbody %s\nwant %s", tc.lua, call.RawBody, tc.body)
			}
		})
	}
}

func clientCheck(check string) string {
	if check == "" {
		return ""
	}
	return "ok = (" + check + ") and true or false"
}

func clientShow(v lua.LValue) string {
	if v == nil {
		return "none"
	}
	if t, ok := v.(*lua.LTable); ok {
		data, err := EncodeJSON(t, false)
		if err == nil {
			return string(data)
		}
	}
	return v.String()
}

func clientCallPaths(calls []fakewechat.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Method + " " + c.Path
	}
	return out
}

// Every method of the Client has a binding in robot.client and a case in
// the table above.
func TestClientEveryMethodBoundAndTested(t *testing.T) {
	e := newClientTestEnv(t)
	tbl := e.L.GetGlobal("client").(*lua.LTable)
	tested := map[string]bool{}
	for _, tc := range clientCases {
		tested[tc.method] = true
		if !strings.HasPrefix(tc.lua, "client."+tc.method) {
			t.Errorf("case for %s calls %s", tc.method, tc.lua)
		}
	}
	methods := client.Methods()
	if len(methods) < 70 {
		t.Fatalf("only %d methods", len(methods))
	}
	for _, m := range methods {
		if _, ok := tbl.RawGetString(m.Name).(*lua.LFunction); !ok {
			t.Errorf("robot.client.%s is not bound", m.Name)
		}
		if !tested[m.Name] {
			t.Errorf("robot.client.%s has no case in clientCases", m.Name)
		}
	}
	// The list copied from the reference docs is bound too (the client
	// package checks it against its table; this closes the loop to Lua).
	data, err := os.ReadFile("../host/client/testdata/methods.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if _, ok := tbl.RawGetString(f[0]).(*lua.LFunction); !ok {
			t.Errorf("robot.client.%s (from %s) is not bound", f[0], strings.Join(f[1:], ", "))
		}
	}
}

func TestClientErrorsInLua(t *testing.T) {
	e := newClientTestEnv(t)
	e.wx.FailOnce("/cgi-bin/message/custom/send", 45009)
	out := e.run(t, `local res, err = client.send_text_message("OPENID", "hi")
		return res, err.errcode, err.errmsg, err.method, err.hint, tostring(err)`)
	if out[0] != lua.LNil || out[1] != lua.LNumber(45009) || !strings.HasPrefix(out[2].String(), "reach max api daily quota limit") ||
		out[3].String() != "send_text_message" || out[4] == lua.LNil ||
		!strings.Contains(out[5].String(), "wechat send_text_message: errcode 45009") {
		t.Errorf("API error in Lua: %v", out)
	}

	// The rejected-token retry is invisible to Lua.
	e.wx.FailOnce("/cgi-bin/menu/get", 40001)
	out = e.run(t, `local res, err = client.get_menu() return res ~= nil, err`)
	if out[0] != lua.LTrue {
		t.Errorf("40001 was not retried: %v", out)
	}

	// A path outside media_dir is refused with a clear message.
	out = e.run(t, `local res, err = client.upload_media("image", "../../etc/passwd") return res, err.errcode, err.errmsg`)
	if out[0] != lua.LNil || out[1] != lua.LNil || !strings.Contains(out[2].String(), "outside media_dir") {
		t.Errorf("escape: %v", out)
	}

	// Wrong arguments are Lua errors with the method's name.
	for chunk, want := range map[string]string{
		`client.create_menu("x")`:                        `create_menu: argument #1 (menu_data) must be a table`,
		`client.send_text_message()`:                     `send_text_message: argument #1 (user_id) is required`,
		`client.get_user_info("a", "b", "c")`:            `takes at most 2 arguments`,
		`client.create_menu{button = {function() end}}`:  `cannot be converted`,
		`client.call("GET", "/x", {a = function() end})`: `query.a`,
	} {
		err := e.L.DoString(chunk)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", chunk, err, want)
		}
		e.L.SetTop(0)
	}

	// Transport errors have only errmsg.
	e.wx.Close()
	out = e.run(t, `local res, err = client.get_tags() return res, err.errcode, err.errmsg`)
	if out[0] != lua.LNil || out[1] != lua.LNil || !strings.HasPrefix(out[2].String(), "wechat get_tags: ") {
		t.Errorf("transport error: %v", out)
	}
}

func TestClientCallFromLua(t *testing.T) {
	e := newClientTestEnv(t)
	e.wx.Answer("/cgi-bin/new/api", []byte(`{"errcode":0,"msg_id":1234567890123456789,"list":[1,2]}`))
	out := e.run(t, `local res, err = client.call("POST", "/cgi-bin/new/api", {x = 1, y = {"a", "b"}}, {text = "中文 & <b>", n = 3})
		return res.msg_id, res.list[2], err`)
	if out[0] != lua.LString("1234567890123456789") || out[1] != lua.LNumber(2) {
		t.Errorf("call result: %v", out)
	}
	call, _ := e.wx.LastCall("/cgi-bin/new/api")
	if string(call.RawBody) != `{"n":3,"text":"中文 & <b>"}` || call.Query.Get("x") != "1" ||
		strings.Join(call.Query["y"], ",") != "a,b" || call.Method != "POST" || call.AccessToken == "" {
		t.Errorf("call request: %s %v %s", call.Method, call.Query, call.RawBody)
	}
	// A string body is sent as it is; no body and no query for a GET.
	e.run(t, `assert(client.call("POST", "/cgi-bin/raw", nil, '{"a":[]}'))
		assert(client.call("GET", "/cgi-bin/menu/get"))`)
	if call, _ := e.wx.LastCall("/cgi-bin/raw"); string(call.RawBody) != `{"a":[]}` {
		t.Errorf("raw body %s", call.RawBody)
	}
	e.wx.FailOnce("/cgi-bin/raw", 48001)
	out = e.run(t, `local res, err = client.call("POST", "/cgi-bin/raw", nil, "{}") return res, err.errcode, err.method`)
	if out[0] != lua.LNil || out[1] != lua.LNumber(48001) || out[2].String() != "call /cgi-bin/raw" {
		t.Errorf("call error: %v", out)
	}
}

func TestClientColonSyntaxAndSaveAs(t *testing.T) {
	e := newClientTestEnv(t)
	out := e.run(t, `return client:get_user_info("OPENID").openid, client:call("GET", "/cgi-bin/menu/get").menu ~= nil`)
	if out[0] != lua.LString("OPENID") || out[1] != lua.LTrue {
		t.Errorf("colon syntax: %v", out)
	}
	out = e.run(t, `return client.download_media("MEDIA", "saved/q.jpg")`)
	if out[0] != lua.LString("saved/q.jpg") || out[1] != lua.LString("image/jpeg") {
		t.Errorf("save_as: %v", out)
	}
	if data, err := os.ReadFile(filepath.Join(e.mediaDir, "saved", "q.jpg")); err != nil || len(data) == 0 {
		t.Errorf("saved file: %v", err)
	}
}

func TestClientUsesLuaContext(t *testing.T) {
	e := newClientTestEnv(t)
	// WeChat stalls far longer than the bound below, which leaves room
	// for a busy machine running -race.
	e.wx.Delay("/cgi-bin/menu/get", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	e.L.SetContext(ctx)
	defer e.L.RemoveContext()
	start := time.Now()
	err := e.L.DoString(`res, err = client.get_menu()`)
	if time.Since(start) > 10*time.Second {
		t.Fatalf("the call outlived the Lua context: %v", time.Since(start))
	}
	// gopher-lua may stop the chunk itself once the context is done; either
	// way the call must not wait for WeChat.
	if err == nil {
		if e.L.GetGlobal("res") != lua.LNil {
			t.Error("got a result after the deadline")
		}
	}
}

func TestClientNotConfigured(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("client", newClientTable(L, nil, nil))
	if err := L.DoString(`local res, err = client.get_menu()
		assert(res == nil and err.errmsg:find("app_id", 1, true), "get_menu")
		res, err = client.call("GET", "/cgi-bin/menu/get")
		assert(res == nil and err.errmsg:find("not configured", 1, true), "call")`); err != nil {
		t.Fatal(err)
	}
}

// robot.client.get and post refuse, with a Lua error, a URL that would
// carry the access token to another host, and uploads from outside
// media_dir come back as an error table.
func TestClientGetPostRefusalsFromLua(t *testing.T) {
	e := newClientTestEnv(t)
	for _, chunk := range []string{
		`return client.get("https://evil.example/cgi-bin/menu/get")`,
		`return client.post("//evil.example/cgi-bin/menu/create", {})`,
		`return client.get("https://api.weixin.qq.com@evil.example/cgi-bin/menu/get")`,
		`return client.get("/cgi-bin/../../steal")`,
	} {
		out := e.run(t, `local ok, err = pcall(function() `+chunk+` end) return ok, tostring(err)`)
		if out[0] != lua.LFalse || !strings.Contains(out[1].String(), "the access token goes to api_base") {
			t.Errorf("%s: %v %v", chunk, out[0], out[1])
		}
	}
	out := e.run(t, `local res, err = client.post("/cgi-bin/media/upload?type=image", nil, {media = "../../etc/passwd"}) return res, err.errmsg`)
	if out[0] != lua.LNil || !strings.Contains(out[1].String(), "media_dir") {
		t.Errorf("upload from outside media_dir: %v %v", out[0], out[1])
	}
	if calls := e.wx.Calls(); len(calls) != 0 {
		t.Errorf("refused calls reached WeChat: %v", clientCallPaths(calls))
	}
}
