package message

// TypeInfo describes one message or event type as the tables of types.go
// define it, for documentation: `luarobot types` writes the class of each
// type's Lua message table from it.
type TypeInfo struct {
	Name  string // the type name: "text", "click_event", ...
	Event bool   // an event push (MsgType event)
	// Wire is how WeChat names the type: MsgType for messages, Event for
	// events ("CLICK"); empty for unknown_event, which stands for any.
	Wire   string
	Fields []FieldInfo // the type-specific fields, in Parse's order
}

// FieldInfo describes one type-specific field.
type FieldInfo struct {
	Name string
	// Element is the XML element the field comes from, a path below <xml>
	// ("ScanCodeInfo/ScanType"), or below the block or the list item for
	// the fields of a table or a list; empty for a part of EventKey.
	Element string
	Kind    FieldKind
	// Part is, for KindKeyPart, the index of the "|"-separated part of
	// EventKey the field holds.
	Part int
	// Fields are the members of a table, or of each item of a list.
	Fields []FieldInfo
}

// FieldKind is what a field's value is (see Field for the Go types).
type FieldKind string

const (
	KindString  FieldKind = "string"
	KindInteger FieldKind = "integer" // int64; a float64 or WeChat's text (a string) when it is not a plain integer
	KindNumber  FieldKind = "number"  // float64
	KindBytes   FieldKind = "bytes"   // a string of the bytes a base64 text stands for
	KindTable   FieldKind = "table"   // a block: map[string]any of its Fields
	KindList    FieldKind = "list"    // a repeated element: one table of Fields per item
	KindKeyPart FieldKind = "key_part"
)

var fieldKinds = [...]FieldKind{
	kString: KindString, kInt: KindInteger, kFloat: KindNumber, kBase64: KindBytes,
	kTable: KindTable, kList: KindList, kStringList: KindList, kKeyPart: KindKeyPart,
}

// Describe returns the description of type typ, and false when Parse
// never produces typ (see Types).
func Describe(typ string) (TypeInfo, bool) {
	t, ok := byName[typ]
	if !ok {
		return TypeInfo{}, false
	}
	return TypeInfo{Name: t.name, Event: t.event, Wire: t.wire, Fields: describeFields(t.fields)}, true
}

func describeFields(fields []fieldSpec) []FieldInfo {
	if len(fields) == 0 {
		return nil
	}
	out := make([]FieldInfo, len(fields))
	for i, f := range fields {
		out[i] = FieldInfo{Name: f.name, Element: f.elem, Kind: fieldKinds[f.kind], Fields: describeFields(f.sub)}
		if f.kind == kKeyPart {
			out[i].Part = f.part
		}
	}
	return out
}
