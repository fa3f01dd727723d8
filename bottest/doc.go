// Package bottest is `luarobot test`: it runs the *_test.lua files of a
// scripts folder, each test(name, fn) against a fresh bot, and reports
// them as go test does.
//
//	res, err := bottest.Run(ctx, bottest.Options{Dir: "scripts", Out: os.Stdout})
//	// ok greets new followers
//	// FAIL counts: hello_test.lua:8: got text "1", want text "2"
//	// 1 passed, 1 failed
//
// A test's bot is built by app.New, the assembly `luarobot serve` uses, from
// the folder's scripts, with what a test must not touch replaced: the
// store (memory), the WeChat API (fakewechat, in the process, with fake
// credentials), robot.http's transport (the test's fakes: nothing reaches
// the network) and the wall clock (one the test moves). Messages go in as
// WeChat sends them, signed (host/simulate), and through the whole pipeline;
// a delivery returns when all it started is done (late replies, robot.async
// work), so that its reply carries every customer-service message the user
// got meanwhile.
//
// Test files run in a sandboxed Lua state of their own (luaapi.Sandbox).
// The test API they see — t, users, replies and their checks, t.api,
// t.http, t.clock, t.store — is built in api.go from one table of classes,
// which API also hands to `luarobot types` for editor definitions.
//
// The fakes a test writes as Lua functions are called by the bot's
// goroutines; the pump (pump.go) runs them on the test's goroutine, which
// owns the Lua state, while it waits for the bot.
package bottest
