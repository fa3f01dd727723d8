package message_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/message"
)

// Describe covers every type, with the names FieldNames gives.
func TestDescribeEveryType(t *testing.T) {
	for _, typ := range message.Types() {
		info, ok := message.Describe(typ)
		if !ok {
			t.Errorf("Describe(%q): not found", typ)
			continue
		}
		names, _ := message.FieldNames(typ)
		var got []string
		for _, f := range info.Fields {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, names) {
			t.Errorf("Describe(%q) fields %v, FieldNames %v", typ, got, names)
		}
		// device_event is a message whose <Event> says what happened.
		if info.Event != (strings.HasSuffix(typ, "_event") && typ != "device_event") {
			t.Errorf("Describe(%q).Event = %v", typ, info.Event)
		}
		if info.Wire == "" && typ != "unknown_event" {
			t.Errorf("Describe(%q) has no wire name", typ)
		}
	}
	if _, ok := message.Describe("nonesuch"); ok {
		t.Error("Describe(nonesuch) found a type")
	}
}

// The kinds Describe reports are the Go values Parse gives: every field
// of every golden sample is checked against its description, down into
// tables and lists.
func TestDescribeMatchesParse(t *testing.T) {
	files, err := filepath.Glob("testdata/messages/*.xml")
	if err != nil || len(files) < 60 {
		t.Fatalf("samples: %v (%d)", err, len(files))
	}
	seen := map[message.FieldKind]bool{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m, err := message.Parse(raw)
		if err != nil {
			continue // the samples of refused input
		}
		info, ok := message.Describe(m.Type)
		if !ok {
			t.Fatalf("%s: type %s is not described", file, m.Type)
		}
		for _, f := range m.Fields {
			checkKind(t, file+": "+m.Type+"."+f.Name, info.Fields, f.Name, f.Value, seen)
		}
	}
	for _, k := range []message.FieldKind{message.KindString, message.KindInteger, message.KindNumber,
		message.KindBytes, message.KindTable, message.KindList, message.KindKeyPart} {
		if !seen[k] {
			t.Errorf("no sample has a field of kind %s", k)
		}
	}
}

func checkKind(t *testing.T, where string, fields []message.FieldInfo, name string, v any, seen map[message.FieldKind]bool) {
	t.Helper()
	i := slices.IndexFunc(fields, func(f message.FieldInfo) bool { return f.Name == name })
	if i < 0 {
		t.Errorf("%s: not described", where)
		return
	}
	f := fields[i]
	seen[f.Kind] = true
	ok := false
	switch f.Kind {
	case message.KindString, message.KindBytes, message.KindKeyPart:
		_, ok = v.(string)
	case message.KindInteger:
		switch v.(type) {
		case int64, float64, string: // the closest type when WeChat's text is not a plain integer
			ok = true
		}
	case message.KindNumber:
		switch v.(type) {
		case float64, int64, string:
			ok = true
		}
	case message.KindTable:
		var m map[string]any
		if m, ok = v.(map[string]any); ok {
			for k, e := range m {
				checkKind(t, where+"."+k, f.Fields, k, e, seen)
			}
		}
	case message.KindList:
		switch l := v.(type) {
		case []map[string]any:
			ok = true
			for _, item := range l {
				for k, e := range item {
					checkKind(t, where+"[]."+k, f.Fields, k, e, seen)
				}
			}
		case []map[string]string:
			ok = true
			for _, item := range l {
				for k, e := range item {
					checkKind(t, where+"[]."+k, f.Fields, k, e, seen)
				}
			}
		}
	}
	if !ok {
		t.Errorf("%s: described as %s, parsed as %T", where, f.Kind, v)
	}
}
