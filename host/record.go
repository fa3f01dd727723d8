package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/luarobot/luarobot/host/message"
)

// A delivery record moves through these states; every change is a
// compare-and-swap on its encoded bytes.
//
//	pending ──(handler answered in time)──────────────▶ passive
//	pending ──(late; a retry is open)──▶ ready ──(retry takes it)──▶ passive
//	                                      ready ──(nobody did)──────▶ sent
//	pending ──(late; no retry open, or no reply at all)─────────────▶ sent
type recordState byte

const (
	statePending recordState = iota + 1 // the handlers are running
	statePassive                        // payload was (or is being) answered passively; retries replay it
	stateReady                          // payload waits for an open retry until waiterUntil
	stateSent                           // delivered through the API, or nothing to say: retries answer success
)

// record is one delivery's entry in the dedup store.
type record struct {
	state recordState
	// waiterUntil is the latest deadline (Unix ms) of a retry waiting for
	// the reply, 0 when none waits.
	waiterUntil int64
	// payload is the rendered (plain) passive reply.
	payload []byte
}

const recordVersion = 1

// pendingRecord is what a first delivery adds: handlers running, nobody
// waiting. Shared, never modified.
var pendingRecord = record{state: statePending}.encode()

// encode writes version, state, waiterUntil and the payload. The encoding
// is deterministic: compare-and-swap compares these bytes.
func (r record) encode() []byte {
	b := make([]byte, 10, 10+len(r.payload))
	b[0] = recordVersion
	b[1] = byte(r.state)
	binary.BigEndian.PutUint64(b[2:], uint64(r.waiterUntil))
	return append(b, r.payload...)
}

func decodeRecord(b []byte) (record, error) {
	if len(b) < 10 {
		return record{}, fmt.Errorf("record of %d bytes is too short", len(b))
	}
	if b[0] != recordVersion {
		return record{}, fmt.Errorf("record version %d, want %d", b[0], recordVersion)
	}
	r := record{state: recordState(b[1]), waiterUntil: int64(binary.BigEndian.Uint64(b[2:10]))}
	if r.state < statePending || r.state > stateSent {
		return record{}, errors.New("record state " + strconv.Itoa(int(b[1])) + " is unknown")
	}
	if len(b) > 10 {
		r.payload = b[10:]
	}
	return r, nil
}

// dedupKey names one message across its deliveries: AppID + FromUserName
// + MsgId for messages, and AppID + FromUserName + CreateTime + Event +
// EventKey for events, which mostly carry no MsgId; the few that do
// (TEMPLATESENDJOBFINISH, MASSSENDJOBFINISH) get it appended, so that two
// of them in one second stay apart. Without an AppID the account's
// original ID (ToUserName) stands in.
func dedupKey(appID string, m *message.Message) string {
	if appID == "" {
		appID = m.Target
	}
	var b strings.Builder
	b.Grow(len(appID) + len(m.Source) + len(m.MessageID) + len(m.Event) + len(m.EventKey) + 24)
	b.WriteString(appID)
	b.WriteByte('|')
	b.WriteString(m.Source)
	b.WriteByte('|')
	if m.MessageID != "" && !m.IsEvent() {
		b.WriteString(m.MessageID)
		return b.String()
	}
	b.WriteString(strconv.FormatInt(m.Time, 10))
	b.WriteByte('|')
	b.WriteString(m.Event)
	b.WriteByte('|')
	b.WriteString(m.EventKey)
	if m.MessageID != "" {
		b.WriteByte('|')
		b.WriteString(m.MessageID)
	}
	return b.String()
}
