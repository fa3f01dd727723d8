package luaapi

import (
	"context"
	"encoding/xml"
	"testing"
	"time"

	"github.com/luarobot/luarobot/internal/benchcpu"
)

// The bot of the benchmarks: one filter that does not match, and one text
// handler that reads and updates the session.
var benchScripts = map[string]string{"bench.lua": `
robot.filter("help", function() return "help text" end)
robot.text(function(message, session)
  session.count = (session.count or 0) + 1
  return "Hello " .. message.content .. " #" .. session.count
end)`}

var benchSession = []byte(`{"count":41,"name":"张三"}`)

// BenchmarkDispatch is Runtime.Dispatch as the host calls it: a pooled
// state, the call run apart with its deadline.
func BenchmarkDispatch(b *testing.B) {
	rt, _ := startRuntime(b, benchScripts, Options{Logger: discardLogger()})
	benchDispatch(b, rt)
}

// benchDispatch dispatches a text message to rt b.N times.
func benchDispatch(b *testing.B, rt *Runtime) {
	msg := textMsg("world")
	ctx := context.Background()
	b.ReportAllocs()
	cpu := benchcpu.Start(b)
	for range b.N {
		r, _, err := rt.Dispatch(ctx, msg, benchSession)
		if err != nil || r == nil {
			b.Fatal(err)
		}
	}
	cpu.Report()
}

// BenchmarkDispatchParallel is BenchmarkDispatch from GOMAXPROCS goroutines.
func BenchmarkDispatchParallel(b *testing.B) {
	rt, _ := startRuntime(b, benchScripts, Options{Logger: discardLogger()})
	msg := textMsg("world")
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := rt.Dispatch(ctx, msg, benchSession); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDispatchFreshState is what the pool saves: a new state per
// message (sandbox, robot table, every script's top level), then the same
// handlers.
func BenchmarkDispatchFreshState(b *testing.B) {
	rt, _ := startRuntime(b, benchScripts, Options{Logger: discardLogger()})
	ver := rt.cur.Load()
	msg := textMsg("world")
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := rt.newState(ctx, ver)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.exec(ctx, func(ctx context.Context, st *state) (any, error) {
			r, _, err := st.dispatch(ctx, msg, benchSession)
			return r, err
		}); err != nil {
			b.Fatal(err)
		}
		st.close()
		cancel()
	}
}

// BenchmarkStateDispatch is the Lua work alone: a state's handlers, without
// the pool and the call's goroutine and deadline.
func BenchmarkStateDispatch(b *testing.B) {
	rt, _ := startRuntime(b, benchScripts, Options{Logger: discardLogger()})
	st, err := rt.newState(context.Background(), rt.cur.Load())
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	msg := textMsg("world")
	ctx := context.Background()
	st.L.SetContext(ctx)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := st.dispatch(ctx, msg, benchSession); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReferenceXMLRoundTrip is not Lua: it is the XML work that
// surrounds every dispatch (decode a text message, encode a text reply)
// done with encoding/xml, as a yardstick for the numbers above. The host's
// own parser and renderer have their benchmarks in host/.
func BenchmarkReferenceXMLRoundTrip(b *testing.B) {
	in := []byte(`<xml><ToUserName><![CDATA[gh_robot]]></ToUserName><FromUserName><![CDATA[user-openid]]></FromUserName>` +
		`<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[world]]></Content>` +
		`<MsgId>6000000000000000001</MsgId></xml>`)
	type msg struct {
		ToUserName, FromUserName, MsgType, Content, MsgId string
		CreateTime                                        int64
	}
	type cdata struct {
		Text string `xml:",cdata"`
	}
	type out struct {
		XMLName      xml.Name `xml:"xml"`
		ToUserName   cdata
		FromUserName cdata
		CreateTime   int64
		MsgType      cdata
		Content      cdata
	}
	b.ReportAllocs()
	for b.Loop() {
		var m msg
		if err := xml.Unmarshal(in, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := xml.Marshal(out{ToUserName: cdata{m.FromUserName}, FromUserName: cdata{m.ToUserName},
			CreateTime: m.CreateTime, MsgType: cdata{"text"}, Content: cdata{"Hello " + m.Content}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatchWait is BenchmarkDispatch with a robot.store call in
// the handler: the state gives its pool slot back while it waits, and
// takes one back after (state.wait).
func BenchmarkDispatchWait(b *testing.B) {
	rt, _ := startRuntime(b, map[string]string{"bench.lua": `
robot.text(function(message, session)
  return "Hello " .. message.content .. " #" .. robot.store.incr("count")
end)`}, Options{Logger: discardLogger(), Values: newMemValues()})
	benchDispatch(b, rt)
}
