// Package message turns the XML that WeChat posts to an Official Account into
// a Message: the common header (who, when, which message) plus the fields of
// its type, named as WeRoBot names them.
//
// Parse is the entry point; it never panics on hostile input and reports
// what was wrong with it. The message shares memory with its input: do not
// modify the bytes passed to Parse while the message is in use.
//
// Every message and event type of the reference docs and of wechatpy's
// Official Account parser is covered (Types lists them, FieldNames their
// fields); anything else becomes "unknown" or "unknown_event" with Raw
// kept. Field values are strings, int64 (counts, flags, fees, times),
// float64 (coordinates, precision), tables for blocks (chosen_beacon) and
// lists of tables for repeated elements (subscribes, pic_list); 64-bit
// identifiers stay strings so Lua's float64 numbers cannot round them.
//
// Marshal is the inverse of Parse, for the simulator and for tests.
//
// Parse does not use encoding/xml: WeChat's documents are flat, and a
// one-pass scanner (scan.go) driven by a table of element paths per type
// (types.go) costs a fraction of reflection-based decoding. FuzzParse holds
// the scanner to encoding/xml's judgement of well-formedness and text.
package message

// Message is one message or event pushed by WeChat, already decrypted.
//
// The common header lives in struct fields; the fields that depend on the
// type live in Fields, in the order the reference documentation lists them,
// so that a consumer (the Lua bridge) can copy them without reflection.
type Message struct {
	// Type is WeRoBot's type name: "text", "image", "link", "location",
	// "voice", "video", "shortvideo", ..., "unknown" for messages, and
	// "subscribe_event", "click_event", ..., "unknown_event" for events:
	// the lower-cased Event with "_event" appended once.
	Type string
	// Source is FromUserName: the user's OpenID.
	Source string
	// Target is ToUserName: the Official Account's original ID.
	Target string
	// Time is CreateTime, a Unix timestamp in seconds.
	Time int64
	// MessageID is MsgId (or MsgID) as WeChat sent it, in decimal. It is a
	// 64-bit integer, kept as a string so nothing rounds it. Empty when the
	// push has none (most events).
	MessageID string
	// Event and EventKey are the raw <Event> and <EventKey> values of an
	// event push ("CLICK", "music"); empty for messages, except device_event
	// whose Event ("bind", ...) says what happened. The reply engine keys
	// retries on them.
	Event    string
	EventKey string
	// Raw is the XML as received (after decryption), kept for handlers that
	// want a field this package does not name.
	Raw []byte
	// Fields holds the type-specific fields, snake_case names as in the
	// reference docs ("content", "media_id", "pic_list", ...).
	Fields []Field
}

// Field is one type-specific field of a Message.
//
// Value is one of: string; int64 (counts, sizes, flags, times: values that
// fit a float64 exactly); float64 (coordinates, precision);
// []map[string]string for pic_list; []map[string]any for the other lists
// (subscribes, around_beacons, ...) and map[string]any for blocks
// (chosen_beacon, copyright_check_result), whose values are of these types
// again. 64-bit identifiers (message ids, card codes, order ids) are
// strings.
type Field struct {
	Name  string
	Value any
}

// Get returns the value of the named type-specific field.
func (m *Message) Get(name string) (any, bool) {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return m.Fields[i].Value, true
		}
	}
	return nil, false
}

// String returns the named field as a string, or "" when it is absent or
// not a string.
func (m *Message) String(name string) string {
	v, _ := m.Get(name)
	s, _ := v.(string)
	return s
}

// IsEvent reports whether the message is an event push.
func (m *Message) IsEvent() bool {
	return m.Event != "" || m.Type == "unknown_event"
}
