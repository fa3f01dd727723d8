package message

import "strings"

// kind says how an element's text becomes a Field value.
type kind uint8

const (
	kString kind = iota // the text as is
	kInt                // int64; a decimal WeChat sends in another form keeps the closest type
	kFloat              // float64
	kBase64             // the bytes a base64 text stands for (hardware content); the text as is when it is not base64
	// kTable is a block of elements (ChosenBeacon) as map[string]any of
	// its sub fields; present when one of them is.
	kTable
	// kList is a repeated element (AroundBeacons/AroundBeacon) as
	// []map[string]any, one table per item; present when its container
	// element is, so an empty container is an empty list.
	kList
	// kStringList is a kList whose items hold strings only, as
	// []map[string]string: pic_list's type since the first release.
	kStringList
	// kKeyPart is one "|"-separated part of a product-scan EventKey
	// ("scanbarcode|<key_standard>|<key_str>"), present when EventKey is
	// one.
	kKeyPart
)

// fieldSpec maps one WeChat element (a path below <xml>, "/"-separated for
// the nested blocks) to one Field.
type fieldSpec struct {
	name string // snake_case field name: the element's name, as the reference docs write it
	elem string // element path below <xml>; below the table or the list item for sub fields
	kind kind
	// item is, for a list, the name of the repeated element inside elem;
	// sub the fields of each item (of the block, for a table).
	item string
	sub  []fieldSpec
	// part is the index of a kKeyPart in the EventKey.
	part int

	key  uint16 // index of the element path in elemKeys, set by init
	list uint8  // index in lists, for kList and kStringList, set by init
}

// typeSpec describes one message or event type.
type typeSpec struct {
	name  string // the type name: "text", "click_event", ...
	wire  string // MsgType for messages, Event for events, as WeChat sends it
	event bool
	// withEvent marks a message type whose <Event> says what happened
	// (device_event: bind, unbind, ...): Parse sets Message.Event, and the
	// "event" field, from it.
	withEvent bool
	// msgIDElem is how Marshal names the message id: MsgID for the job
	// notifications, MsgId (the default) elsewhere.
	msgIDElem string
	fields    []fieldSpec
}

// The elements every push carries. Their keys are the first in elemKeys.
const (
	keyToUserName uint16 = iota
	keyFromUserName
	keyCreateTime
	keyMsgType
	keyMsgId
	keyMsgID
	keyEvent
	keyEventKey
	numFixedKeys
)

var fixedElems = [numFixedKeys]string{
	"ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "MsgID", "Event", "EventKey",
}

// Field lists shared by several types, in the reference docs' order.
var (
	keyField     = fieldSpec{name: "key", elem: "EventKey"}
	ticketFields = []fieldSpec{keyField, {name: "ticket", elem: "Ticket"}}
	scanFields   = []fieldSpec{
		keyField,
		{name: "scan_type", elem: "ScanCodeInfo/ScanType"},
		{name: "scan_result", elem: "ScanCodeInfo/ScanResult"},
	}
	picFields = []fieldSpec{
		keyField,
		{name: "count", elem: "SendPicsInfo/Count", kind: kInt},
		{name: "pic_list", elem: "SendPicsInfo/PicList", kind: kStringList, item: "item", sub: []fieldSpec{
			{name: "pic_md5_sum", elem: "PicMd5Sum"},
		}},
	}
	productFields = []fieldSpec{
		{name: "key_standard", elem: "KeyStandard"},
		{name: "key_str", elem: "KeyStr"},
	}
	cardCheckFields = []fieldSpec{
		{name: "card_id", elem: "CardId"},
		{name: "refuse_reason", elem: "RefuseReason"},
	}
	cardFields = []fieldSpec{
		{name: "card_id", elem: "CardId"},
		{name: "user_card_code", elem: "UserCardCode"},
	}
	videoFields = []fieldSpec{
		{name: "media_id", elem: "MediaId"},
		{name: "thumb_media_id", elem: "ThumbMediaId"},
	}
	// The hardware (设备) pushes; Content is base64 of the device's bytes.
	deviceFields = []fieldSpec{
		{name: "device_type", elem: "DeviceType"},
		{name: "device_id", elem: "DeviceID"},
		{name: "session_id", elem: "SessionID"},
		{name: "content", elem: "Content", kind: kBase64},
		{name: "open_id", elem: "OpenID"},
	}
	kfAccountFields = []fieldSpec{{name: "kf_account", elem: "KfAccount"}}
	// subscribes is the list of the 订阅通知 events: one item per template,
	// with the members its event sends (popup: status and scene; change:
	// status; sent: msg_id and the error).
	subscribeItem = []fieldSpec{
		{name: "template_id", elem: "TemplateId"},
		{name: "subscribe_status_string", elem: "SubscribeStatusString"},
		{name: "popup_scene", elem: "PopupScene", kind: kInt},
		{name: "msg_id", elem: "MsgID"},
		{name: "error_code", elem: "ErrorCode", kind: kInt},
		{name: "error_status", elem: "ErrorStatus"},
	}
	beaconFields = []fieldSpec{
		{name: "uuid", elem: "Uuid"},
		{name: "major", elem: "Major", kind: kInt},
		{name: "minor", elem: "Minor", kind: kInt},
		{name: "distance", elem: "Distance", kind: kFloat},
	}
	expiredFields = []fieldSpec{{name: "expired_time", elem: "ExpiredTime", kind: kInt}}
	failFields    = []fieldSpec{
		{name: "fail_time", elem: "FailTime", kind: kInt},
		{name: "fail_reason", elem: "FailReason"},
	}
)

func subscribesField(container string) []fieldSpec {
	return []fieldSpec{{name: "subscribes", elem: container, kind: kList, item: "List", sub: subscribeItem}}
}

func join(lists ...[]fieldSpec) []fieldSpec {
	var out []fieldSpec
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// messageTypes and eventTypes list every type of the reference docs, in
// their order, then the ones wechatpy's parser adds. Fields WeChat sends
// that the docs do not name (image's media_id, view's menu_id,
// user_get_card's union_id) come after the documented ones.
var messageTypes = []typeSpec{
	{name: "text", wire: "text", fields: []fieldSpec{{name: "content", elem: "Content"}}},
	{name: "image", wire: "image", fields: []fieldSpec{
		{name: "img", elem: "PicUrl"},
		{name: "media_id", elem: "MediaId"},
	}},
	{name: "link", wire: "link", fields: []fieldSpec{
		{name: "title", elem: "Title"},
		{name: "description", elem: "Description"},
		{name: "url", elem: "Url"},
	}},
	{name: "location", wire: "location", fields: []fieldSpec{
		{name: "location_x", elem: "Location_X", kind: kFloat},
		{name: "location_y", elem: "Location_Y", kind: kFloat},
		{name: "scale", elem: "Scale", kind: kInt},
		{name: "label", elem: "Label"},
	}},
	{name: "voice", wire: "voice", fields: []fieldSpec{
		{name: "media_id", elem: "MediaId"},
		{name: "format", elem: "Format"},
		{name: "recognition", elem: "Recognition"},
	}},
	{name: "video", wire: "video", fields: videoFields},
	{name: "shortvideo", wire: "shortvideo", fields: videoFields},
	{name: "miniprogrampage", wire: "miniprogrampage", fields: []fieldSpec{
		{name: "title", elem: "Title"},
		{name: "app_id", elem: "AppId"},
		{name: "page_path", elem: "PagePath"},
		{name: "thumb_url", elem: "ThumbUrl"},
		{name: "thumb_media_id", elem: "ThumbMediaId"},
	}},
	{name: "device_text", wire: "device_text", fields: deviceFields},
	{name: "device_event", wire: "device_event", withEvent: true, fields: join(
		[]fieldSpec{{name: "event", elem: "Event"}}, deviceFields,
		[]fieldSpec{{name: "op_type", elem: "OpType", kind: kInt}})},
}

var eventTypes = []typeSpec{
	{name: "subscribe_event", wire: "subscribe", fields: join(ticketFields, []fieldSpec{
		// A follow from a product's page (扫一扫): EventKey is
		// "scanbarcode|<key_standard>|<key_str>" (or scanimage|...).
		{name: "scene", kind: kKeyPart, part: 0},
		{name: "key_standard", kind: kKeyPart, part: 1},
		{name: "key_str", kind: kKeyPart, part: 2},
	})},
	{name: "unsubscribe_event", wire: "unsubscribe"},
	{name: "scan_event", wire: "SCAN", fields: ticketFields},
	{name: "scancode_push_event", wire: "scancode_push", fields: scanFields},
	{name: "scancode_waitmsg_event", wire: "scancode_waitmsg", fields: scanFields},
	{name: "pic_sysphoto_event", wire: "pic_sysphoto", fields: picFields},
	{name: "pic_photo_or_album_event", wire: "pic_photo_or_album", fields: picFields},
	{name: "pic_weixin_event", wire: "pic_weixin", fields: picFields},
	{name: "location_select_event", wire: "location_select", fields: []fieldSpec{
		keyField,
		{name: "location_x", elem: "SendLocationInfo/Location_X", kind: kFloat},
		{name: "location_y", elem: "SendLocationInfo/Location_Y", kind: kFloat},
		{name: "scale", elem: "SendLocationInfo/Scale", kind: kInt},
		{name: "label", elem: "SendLocationInfo/Label"},
		{name: "poi_name", elem: "SendLocationInfo/Poiname"},
	}},
	{name: "click_event", wire: "CLICK", fields: []fieldSpec{keyField}},
	{name: "view_event", wire: "VIEW", fields: []fieldSpec{keyField, {name: "menu_id", elem: "MenuId"}}},
	{name: "location_event", wire: "LOCATION", fields: []fieldSpec{
		{name: "latitude", elem: "Latitude", kind: kFloat},
		{name: "longitude", elem: "Longitude", kind: kFloat},
		{name: "precision", elem: "Precision", kind: kFloat},
	}},
	{name: "templatesendjobfinish_event", wire: "TEMPLATESENDJOBFINISH", msgIDElem: "MsgID", fields: []fieldSpec{
		{name: "status", elem: "Status"},
	}},
	{name: "user_scan_product_event", wire: "user_scan_product", fields: join(productFields, []fieldSpec{
		{name: "country", elem: "Country"},
		{name: "province", elem: "Province"},
		{name: "city", elem: "City"},
		{name: "sex", elem: "Sex", kind: kInt},
		{name: "scene", elem: "Scene", kind: kInt},
		{name: "ext_info", elem: "ExtInfo"},
	})},
	{name: "user_scan_product_enter_session_event", wire: "user_scan_product_enter_session", fields: join(productFields, []fieldSpec{
		{name: "ext_info", elem: "ExtInfo"},
	})},
	{name: "user_scan_product_async_event", wire: "user_scan_product_async", fields: join(productFields, []fieldSpec{
		{name: "ext_info", elem: "ExtInfo"},
		{name: "region_code", elem: "RegionCode"},
	})},
	{name: "user_scan_product_verify_action_event", wire: "user_scan_product_verify_action", fields: join(productFields, []fieldSpec{
		{name: "result", elem: "Result"},
		{name: "reason_msg", elem: "ReasonMsg"},
	})},
	{name: "card_pass_check_event", wire: "card_pass_check", fields: cardCheckFields},
	{name: "card_not_pass_check_event", wire: "card_not_pass_check", fields: cardCheckFields},
	{name: "user_get_card_event", wire: "user_get_card", fields: join(cardFields, []fieldSpec{
		{name: "is_give_by_friend", elem: "IsGiveByFriend", kind: kInt},
		{name: "friend_user_name", elem: "FriendUserName"},
		{name: "outer_id", elem: "OuterId", kind: kInt},
		{name: "old_user_card_code", elem: "OldUserCardCode"},
		{name: "outer_str", elem: "OuterStr"},
		{name: "is_restore_member_card", elem: "IsRestoreMemberCard", kind: kInt},
		{name: "is_recommend_by_friend", elem: "IsRecommendByFriend", kind: kInt},
		{name: "union_id", elem: "UnionId"},
	})},
	{name: "user_gifting_card_event", wire: "user_gifting_card", fields: join(cardFields, []fieldSpec{
		{name: "friend_user_name", elem: "FriendUserName"},
		{name: "is_return_back", elem: "IsReturnBack", kind: kInt},
		{name: "is_chat_room", elem: "IsChatRoom", kind: kInt},
	})},
	{name: "user_del_card_event", wire: "user_del_card", fields: cardFields},
	{name: "user_consume_card_event", wire: "user_consume_card", fields: join(cardFields, []fieldSpec{
		{name: "consume_source", elem: "ConsumeSource"},
		{name: "location_name", elem: "LocationName"},
		{name: "staff_open_id", elem: "StaffOpenId"},
		{name: "verify_code", elem: "VerifyCode"},
		{name: "remark_amount", elem: "RemarkAmount"},
		{name: "outer_str", elem: "OuterStr"},
	})},
	{name: "user_pay_from_pay_cell_event", wire: "user_pay_from_pay_cell", fields: join(cardFields, []fieldSpec{
		{name: "trans_id", elem: "TransId"},
		{name: "location_id", elem: "LocationId", kind: kInt},
		{name: "fee", elem: "Fee", kind: kInt},
		{name: "original_fee", elem: "OriginalFee", kind: kInt},
	})},
	{name: "user_view_card_event", wire: "user_view_card", fields: join(cardFields, []fieldSpec{
		{name: "outer_str", elem: "OuterStr"},
	})},
	{name: "user_enter_session_from_card_event", wire: "user_enter_session_from_card", fields: cardFields},
	{name: "update_member_card_event", wire: "update_member_card", fields: join(cardFields, []fieldSpec{
		{name: "modify_bonus", elem: "ModifyBonus", kind: kInt},
		{name: "modify_balance", elem: "ModifyBalance", kind: kInt},
	})},
	{name: "card_sku_remind_event", wire: "card_sku_remind", fields: []fieldSpec{
		{name: "card_id", elem: "CardId"},
		{name: "detail", elem: "Detail"},
	}},
	{name: "card_pay_order_event", wire: "card_pay_order", fields: join(cardFields, []fieldSpec{
		{name: "order_id", elem: "OrderId"},
		{name: "status", elem: "Status"},
		{name: "create_order_time", elem: "CreateOrderTime", kind: kInt},
		{name: "pay_finish_time", elem: "PayFinishTime", kind: kInt},
		{name: "desc", elem: "Desc"},
		{name: "free_coin_count", elem: "FreeCoinCount", kind: kInt},
		{name: "pay_coin_count", elem: "PayCoinCount", kind: kInt},
		{name: "refund_free_coin_count", elem: "RefundFreeCoinCount", kind: kInt},
		{name: "refund_pay_coin_count", elem: "RefundPayCoinCount", kind: kInt},
		{name: "order_type", elem: "OrderType"},
		{name: "memo", elem: "Memo"},
		{name: "receipt_info", elem: "ReceiptInfo"},
	})},
	{name: "submit_membercard_user_info_event", wire: "submit_membercard_user_info", fields: cardFields},

	// The events of wechatpy's parser that the reference docs lack, in
	// its order.
	{name: "masssendjobfinish_event", wire: "MASSSENDJOBFINISH", msgIDElem: "MsgID", fields: []fieldSpec{
		{name: "status", elem: "Status"},
		{name: "total_count", elem: "TotalCount", kind: kInt},
		{name: "filter_count", elem: "FilterCount", kind: kInt},
		{name: "sent_count", elem: "SentCount", kind: kInt},
		{name: "error_count", elem: "ErrorCount", kind: kInt},
		// 原创校验 (copyright check) of each article, and the URLs of the
		// articles sent.
		{name: "copyright_check_result", elem: "CopyrightCheckResult", kind: kTable, sub: []fieldSpec{
			{name: "count", elem: "Count", kind: kInt},
			{name: "result_list", elem: "ResultList", kind: kList, item: "item", sub: []fieldSpec{
				{name: "article_idx", elem: "ArticleIdx", kind: kInt},
				{name: "user_declare_state", elem: "UserDeclareState", kind: kInt},
				{name: "audit_state", elem: "AuditState", kind: kInt},
				{name: "original_article_url", elem: "OriginalArticleUrl"},
				{name: "original_article_type", elem: "OriginalArticleType", kind: kInt},
				{name: "can_reprint", elem: "CanReprint", kind: kInt},
				{name: "need_replace_content", elem: "NeedReplaceContent", kind: kInt},
				{name: "need_show_reprint_source", elem: "NeedShowReprintSource", kind: kInt},
			}},
			{name: "check_state", elem: "CheckState", kind: kInt},
		}},
		{name: "article_url_result", elem: "ArticleUrlResult", kind: kTable, sub: []fieldSpec{
			{name: "count", elem: "Count", kind: kInt},
			{name: "result_list", elem: "ResultList", kind: kList, item: "item", sub: []fieldSpec{
				{name: "article_idx", elem: "ArticleIdx", kind: kInt},
				{name: "article_url", elem: "ArticleUrl"},
			}},
		}},
	}},
	{name: "subscribe_msg_popup_event", wire: "subscribe_msg_popup_event", fields: subscribesField("SubscribeMsgPopupEvent")},
	{name: "subscribe_msg_change_event", wire: "subscribe_msg_change_event", fields: subscribesField("SubscribeMsgChangeEvent")},
	{name: "subscribe_msg_sent_event", wire: "subscribe_msg_sent_event", fields: subscribesField("SubscribeMsgSentEvent")},
	{name: "merchant_order_event", wire: "merchant_order", fields: []fieldSpec{
		{name: "order_id", elem: "OrderId"},
		{name: "order_status", elem: "OrderStatus", kind: kInt},
		{name: "product_id", elem: "ProductId"},
		{name: "sku_info", elem: "SkuInfo"},
	}},
	{name: "kf_create_session_event", wire: "kf_create_session", fields: kfAccountFields},
	{name: "kf_close_session_event", wire: "kf_close_session", fields: kfAccountFields},
	{name: "kf_switch_session_event", wire: "kf_switch_session", fields: []fieldSpec{
		{name: "from_kf_account", elem: "FromKfAccount"},
		{name: "to_kf_account", elem: "ToKfAccount"},
	}},
	{name: "shakearoundusershake_event", wire: "ShakearoundUserShake", fields: []fieldSpec{
		{name: "chosen_beacon", elem: "ChosenBeacon", kind: kTable, sub: beaconFields},
		{name: "around_beacons", elem: "AroundBeacons", kind: kList, item: "AroundBeacon", sub: beaconFields},
	}},
	{name: "poi_check_notify_event", wire: "poi_check_notify", fields: []fieldSpec{
		{name: "uniq_id", elem: "UniqId"},
		{name: "poi_id", elem: "PoiId"},
		{name: "result", elem: "Result"},
		{name: "msg", elem: "Msg"},
	}},
	{name: "wificonnected_event", wire: "WifiConnected", fields: []fieldSpec{
		{name: "connect_time", elem: "ConnectTime", kind: kInt},
		{name: "expire_time", elem: "ExpireTime", kind: kInt},
		{name: "vendor_id", elem: "VendorId"},
		{name: "place_id", elem: "PlaceId"},
		{name: "device_no", elem: "DeviceNo"},
	}},
	// 微信认证 (account verification) notices.
	{name: "qualification_verify_success_event", wire: "qualification_verify_success", fields: expiredFields},
	{name: "qualification_verify_fail_event", wire: "qualification_verify_fail", fields: failFields},
	{name: "naming_verify_success_event", wire: "naming_verify_success", fields: expiredFields},
	{name: "naming_verify_fail_event", wire: "naming_verify_fail", fields: failFields},
	{name: "annual_renew_event", wire: "annual_renew", fields: expiredFields},
	{name: "verify_expired_event", wire: "verify_expired", fields: expiredFields},
	// 电子发票 (invoices).
	{name: "user_authorize_invoice_event", wire: "user_authorize_invoice", fields: []fieldSpec{
		{name: "succ_order_id", elem: "SuccOrderId"},
		{name: "fail_order_id", elem: "FailOrderId"},
		{name: "app_id", elem: "AppId"},
		// <Source> (web or app): "source" is the user's OpenID already.
		{name: "auth_source", elem: "Source"},
	}},
	{name: "update_invoice_status_event", wire: "update_invoice_status", fields: []fieldSpec{
		{name: "status", elem: "Status"},
		{name: "card_id", elem: "CardId"},
		{name: "code", elem: "Code"},
	}},
	{name: "submit_invoice_title_event", wire: "submit_invoice_title", fields: []fieldSpec{
		{name: "title", elem: "title"},
		{name: "phone", elem: "phone"},
		{name: "tax_no", elem: "tax_no"},
		{name: "addr", elem: "addr"},
		{name: "bank_type", elem: "bank_type"},
		{name: "bank_no", elem: "bank_no"},
		{name: "attach", elem: "attach"},
		{name: "title_type", elem: "title_type"},
	}},
	// Mini-program pushes wechatpy parses with the Official Account's.
	{name: "user_enter_tempsession_event", wire: "user_enter_tempsession", fields: []fieldSpec{
		{name: "session_from", elem: "SessionFrom"},
	}},
	{name: "view_miniprogram_event", wire: "view_miniprogram", fields: []fieldSpec{keyField, {name: "menu_id", elem: "MenuId"}}},
	{name: "wxa_media_check_event", wire: "wxa_media_check", fields: []fieldSpec{
		{name: "isrisky", elem: "isrisky", kind: kInt},
		{name: "extra_info_json", elem: "extra_info_json"},
		{name: "trace_id", elem: "trace_id"},
		{name: "status_code", elem: "status_code", kind: kInt},
	}},
}

// The types for anything the tables above do not know.
var (
	unknownMessage = &typeSpec{name: "unknown", wire: "unknown"}
	unknownEvent   = &typeSpec{name: "unknown_event", event: true}
)

// Roles of the element paths Parse reads. Most are leaves whose text is a
// field (or a table's sub field); a list has three: its container, the
// repeated item, and the leaves inside an item.
const (
	roleLeaf uint8 = iota
	roleContainer
	roleItem
	roleItemLeaf
)

// keyRole is what the scanner needs to know about one element path.
type keyRole struct {
	role uint8
	list uint8 // the list of a container, an item or an item leaf
}

// listSpec is one repeated element: where it is and what its items hold.
// Types that share the container path share the list (the pic events).
type listSpec struct {
	container string // path of the container element
	sub       []fieldSpec
}

// maxLists bounds the distinct lists, so the scanner counts items in a
// fixed array.
const maxLists = 16

var (
	// elemKeys maps an element path to its key; elemPaths is the inverse,
	// roles the role of each key.
	elemKeys  map[string]uint16
	elemPaths []string
	roles     []keyRole
	lists     []listSpec
	// byMsgType and byEvent find a type by its wire name, as sent and
	// lower-cased; byName by its type name.
	byMsgType map[string]*typeSpec
	byEvent   map[string]*typeSpec
	byName    map[string]*typeSpec
	allTypes  []string
)

// keyOf returns the key of an element path with its role, adding it the
// first time. A path has one role whatever type reads it.
func keyOf(path string, r keyRole) uint16 {
	if k, ok := elemKeys[path]; ok {
		if roles[k] != r {
			panic("message: element " + path + " has two roles")
		}
		return k
	}
	if len(elemPaths) >= 1<<16-1 {
		panic("message: too many element paths")
	}
	if strings.Count(path, "/") >= maxKeyDepth {
		panic("message: element " + path + " is deeper than maxKeyDepth")
	}
	k := uint16(len(elemPaths))
	elemKeys[path] = k
	elemPaths = append(elemPaths, path)
	roles = append(roles, r)
	return k
}

// setKeys gives the fields (below prefix) their keys, copying the shared
// field lists first, so that setting keys never writes through a slice two
// types share.
func setKeys(fields []fieldSpec, prefix string, role uint8, list uint8) []fieldSpec {
	fields = append([]fieldSpec(nil), fields...)
	for i := range fields {
		f := &fields[i]
		switch f.kind {
		case kKeyPart:
			continue
		case kTable:
			if role != roleLeaf || strings.Contains(f.elem, "/") {
				panic("message: table " + f.name + " must be a top-level element")
			}
			f.sub = setKeys(f.sub, prefix+f.elem+"/", roleLeaf, 0)
			continue
		case kList, kStringList:
			if role != roleLeaf {
				panic("message: list " + f.name + " inside a list")
			}
			f.list = listOf(prefix+f.elem, f.sub)
			f.key = keyOf(prefix+f.elem, keyRole{role: roleContainer, list: f.list})
			item := prefix + f.elem + "/" + f.item
			keyOf(item, keyRole{role: roleItem, list: f.list})
			f.sub = setKeys(f.sub, item+"/", roleItemLeaf, f.list)
			lists[f.list].sub = f.sub
			continue
		}
		if strings.Count(f.elem, "/") > 1 {
			panic("message: " + f.elem + ": Marshal writes one level of nesting")
		}
		f.key = keyOf(prefix+f.elem, keyRole{role: role, list: list})
	}
	return fields
}

// listOf returns the index of the list at container, adding it the first
// time; types sharing a list must describe its items alike.
func listOf(container string, sub []fieldSpec) uint8 {
	for i, l := range lists {
		if l.container != container {
			continue
		}
		if len(l.sub) != len(sub) {
			panic("message: list " + container + " described twice, differently")
		}
		for j := range sub {
			if l.sub[j].name != sub[j].name || l.sub[j].elem != sub[j].elem || l.sub[j].kind != sub[j].kind {
				panic("message: list " + container + " described twice, differently")
			}
		}
		return uint8(i)
	}
	if len(lists) >= maxLists {
		panic("message: more than maxLists lists")
	}
	lists = append(lists, listSpec{container: container, sub: sub})
	return uint8(len(lists) - 1)
}

func init() {
	elemKeys = make(map[string]uint16)
	for _, e := range fixedElems {
		keyOf(e, keyRole{})
	}
	byMsgType = make(map[string]*typeSpec)
	byEvent = make(map[string]*typeSpec)
	byName = make(map[string]*typeSpec)
	register := func(t *typeSpec) {
		t.fields = setKeys(t.fields, "", roleLeaf, 0)
		byName[t.name] = t
		allTypes = append(allTypes, t.name)
	}
	for i := range messageTypes {
		t := &messageTypes[i]
		register(t)
		byMsgType[t.wire] = t
	}
	register(unknownMessage)
	for i := range eventTypes {
		t := &eventTypes[i]
		t.event = true
		register(t)
		byEvent[t.wire] = t
		byEvent[strings.ToLower(t.wire)] = t
	}
	register(unknownEvent)
}

// Types returns the name of every type Parse produces: the message types,
// "unknown", the event types and "unknown_event", in the reference docs'
// order, each followed by the ones wechatpy's parser adds.
func Types() []string {
	return append([]string(nil), allTypes...)
}

// FieldNames returns the names of the type-specific fields a message of
// type typ can carry, in the order Parse puts them in Fields, and false
// when Parse never produces typ.
func FieldNames(typ string) ([]string, bool) {
	t, ok := byName[typ]
	if !ok {
		return nil, false
	}
	names := make([]string, len(t.fields))
	for i, f := range t.fields {
		names[i] = f.name
	}
	return names, true
}
