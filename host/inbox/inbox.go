// Package inbox keeps, for the console, the messages the bot sends its
// console users through the customer-service API — late replies, the rest
// of a long text, robot.send — instead of sending them to WeChat, which
// knows no such users.
//
//	ib := inbox.New(inbox.Options{})
//	sender := ib.Wrap(client.SendReply) // the host's Sender and robot.send
//	items := ib.Since("console-alice", lastSeen)
//
// Console users are the openids that start with Prefix ("console-alice").
// Every other openid goes to the wrapped sender unchanged. Items are
// numbered across all users in the order they arrive, so a reader that
// keeps the last number it saw gets each item once.
//
// Only sends made through the wrapped function are kept: robot.client
// calls (send_text_message and the like) still go to WeChat, which
// answers a console user's openid with 40003 (invalid openid), as it
// would for any unknown user.
package inbox

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/luarobot/luarobot/host/reply"
)

// Prefix starts the openid of every console user.
const Prefix = "console-"

// IsConsoleUser reports whether openid is a console user's.
func IsConsoleUser(openid string) bool { return strings.HasPrefix(openid, Prefix) }

// Bounds: a console is a tool for a few people; a script that sends a
// console user a message every millisecond must not fill the memory.
const (
	DefaultPerUser = 200
	DefaultUsers   = 1000
)

// Options configure an Inbox.
type Options struct {
	// PerUser is how many items each user keeps (DefaultPerUser when 0);
	// older ones are dropped.
	PerUser int
	// Users is how many users have items at once (DefaultUsers when 0);
	// the one whose newest item is oldest is dropped first.
	Users int
	// Now stamps items (tests); default time.Now.
	Now func() time.Time
}

// Item is one message the bot sent a console user.
type Item struct {
	ID    uint64
	Time  time.Time
	Reply reply.Reply
}

// Inbox holds the items. It is safe for concurrent use.
type Inbox struct {
	opts Options

	mu      sync.Mutex
	lastID  uint64
	users   map[string][]Item
	changed chan struct{} // closed and replaced at every new item
}

// New makes an empty inbox.
func New(opts Options) *Inbox {
	if opts.PerUser <= 0 {
		opts.PerUser = DefaultPerUser
	}
	if opts.Users <= 0 {
		opts.Users = DefaultUsers
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Inbox{opts: opts, users: map[string][]Item{}, changed: make(chan struct{})}
}

// SendFunc is the host's Sender: one reply to one user through the
// customer-service API.
type SendFunc = func(ctx context.Context, openid string, r reply.Reply) error

// errNoSender is what a real user's send gets when the host has no Client.
var errNoSender = errors.New("no Client configured (app_id and app_secret are needed to send customer-service messages)")

// Wrap returns a sender that keeps the messages to console users here and
// passes the others to next. next may be nil (a host without app_id and
// app_secret): console users still get their messages, the others an
// error.
func (ib *Inbox) Wrap(next SendFunc) SendFunc {
	return func(ctx context.Context, openid string, r reply.Reply) error {
		if IsConsoleUser(openid) {
			ib.Add(openid, r)
			return nil
		}
		if next == nil {
			return errNoSender
		}
		return next(ctx, openid, r)
	}
}

// Add keeps r for openid and returns its number.
func (ib *Inbox) Add(openid string, r reply.Reply) uint64 {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	ib.lastID++
	items, ok := ib.users[openid]
	if !ok && len(ib.users) >= ib.opts.Users {
		ib.dropStalest()
	}
	items = append(items, Item{ID: ib.lastID, Time: ib.opts.Now(), Reply: r})
	if len(items) > ib.opts.PerUser {
		items = append(items[:0:0], items[len(items)-ib.opts.PerUser:]...)
	}
	ib.users[openid] = items
	close(ib.changed)
	ib.changed = make(chan struct{})
	return ib.lastID
}

// dropStalest forgets the user whose newest item is the oldest.
func (ib *Inbox) dropStalest() {
	var stalest string
	var oldest uint64
	for u, items := range ib.users {
		if id := items[len(items)-1].ID; stalest == "" || id < oldest {
			stalest, oldest = u, id
		}
	}
	delete(ib.users, stalest)
}

// Since returns openid's items numbered after after, oldest first.
func (ib *Inbox) Since(openid string, after uint64) []Item {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	var out []Item
	for _, it := range ib.users[openid] {
		if it.ID > after {
			out = append(out, it)
		}
	}
	return out
}

// Last is the number of the newest item of any user, 0 when none.
func (ib *Inbox) Last() uint64 {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return ib.lastID
}

// Changed returns a channel closed at the next new item (of any user).
func (ib *Inbox) Changed() <-chan struct{} {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return ib.changed
}
