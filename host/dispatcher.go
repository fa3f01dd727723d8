package host

import (
	"context"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
)

// Dispatcher runs the bot's handlers for one message. The Lua runtime
// implements it; tests use small Go dispatchers.
type Dispatcher interface {
	// Dispatch handles msg for the user whose stored session is session
	// (nil when there is none, or sessions are off). It returns the reply
	// (nil when no handler answered) and the session to store: nil when the
	// handlers left it unchanged. A handler error is returned as err, with
	// the script file and line in its text; the session is then not saved.
	Dispatch(ctx context.Context, msg *message.Message, session []byte) (r reply.Reply, newSession []byte, err error)
}

// ErrorPager is implemented by dispatchers that customise the page shown
// for a request whose signature does not verify (robot.error_page).
type ErrorPager interface {
	// ErrorPage returns the HTML for the request URL, and false to use the
	// built-in page. Anyone can make such requests, so ctx is short: a
	// pager that cannot answer in time gives false.
	ErrorPage(ctx context.Context, url string) (html string, ok bool)
}
