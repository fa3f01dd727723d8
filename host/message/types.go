package message

import "strings"

// kind says how an element's text becomes a Field value.
type kind uint8

const (
	kString  kind = iota // the text as is
	kInt                 // int64; a decimal WeChat sends in another form keeps the closest type
	kFloat               // float64
	kPicList             // []map[string]string built from SendPicsInfo/PicList/item
)

// fieldSpec maps one WeChat element (a path below <xml>, "/"-separated for
// the nested blocks) to one Field.
type fieldSpec struct {
	name string // snake_case field name, as the reference docs name it
	elem string // element path below <xml>
	kind kind
	key  uint8 // index of elem in elemKeys, set by init
}

// typeSpec describes one message or event type.
type typeSpec struct {
	name   string // WeRoBot's type name: "text", "click_event", ...
	wire   string // MsgType for messages, Event for events, as WeChat sends it
	event  bool
	fields []fieldSpec
}

// The elements every push carries. Their keys are the first in elemKeys.
const (
	keyToUserName uint8 = iota
	keyFromUserName
	keyCreateTime
	keyMsgType
	keyMsgId
	keyMsgID
	keyEvent
	keyEventKey
	keyPicList // SendPicsInfo/PicList: its presence makes pic_list present
	keyPicItem // SendPicsInfo/PicList/item: one entry of pic_list
	keyPicMd5  // SendPicsInfo/PicList/item/PicMd5Sum
	numFixedKeys
)

var fixedElems = [numFixedKeys]string{
	"ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "MsgID", "Event", "EventKey",
	"SendPicsInfo/PicList", "SendPicsInfo/PicList/item", "SendPicsInfo/PicList/item/PicMd5Sum",
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
		{name: "pic_list", elem: "SendPicsInfo/PicList", kind: kPicList},
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
)

func join(lists ...[]fieldSpec) []fieldSpec {
	var out []fieldSpec
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// messageTypes and eventTypes list every type of the reference docs, in
// their order. Fields WeChat sends that the docs do not name (image's
// media_id, view's menu_id, user_get_card's union_id) come after the
// documented ones.
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
}

var eventTypes = []typeSpec{
	{name: "subscribe_event", wire: "subscribe", fields: ticketFields},
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
	{name: "templatesendjobfinish_event", wire: "TEMPLATESENDJOBFINISH", fields: []fieldSpec{
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
}

// The types for anything the tables above do not know.
var (
	unknownMessage = &typeSpec{name: "unknown", wire: "unknown"}
	unknownEvent   = &typeSpec{name: "unknown_event", event: true}
)

var (
	// elemKeys maps an element path to its key; elemPaths is the inverse.
	elemKeys  map[string]uint8
	elemPaths []string
	// byMsgType and byEvent find a type by its wire name, as sent and
	// lower-cased; byName by its type name.
	byMsgType map[string]*typeSpec
	byEvent   map[string]*typeSpec
	byName    map[string]*typeSpec
	allTypes  []string
)

func init() {
	elemKeys = make(map[string]uint8)
	for i, e := range fixedElems {
		elemKeys[e] = uint8(i)
		elemPaths = append(elemPaths, e)
	}
	byMsgType = make(map[string]*typeSpec)
	byEvent = make(map[string]*typeSpec)
	byName = make(map[string]*typeSpec)
	register := func(t *typeSpec) {
		// Each type gets its own copy of the shared field lists, so that
		// setting keys never writes through a slice two types share.
		t.fields = append([]fieldSpec(nil), t.fields...)
		for i := range t.fields {
			f := &t.fields[i]
			k, ok := elemKeys[f.elem]
			if !ok {
				if len(elemPaths) > 255 {
					panic("message: too many element paths")
				}
				k = uint8(len(elemPaths))
				elemKeys[f.elem] = k
				elemPaths = append(elemPaths, f.elem)
			}
			f.key = k
		}
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
// order.
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
