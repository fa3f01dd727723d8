package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/inbox"
	"github.com/luarobot/luarobot/host/reply"
)

func TestConsoleUsersAreKeptOthersPassOn(t *testing.T) {
	ib := inbox.New(inbox.Options{})
	var passed []string
	send := ib.Wrap(func(ctx context.Context, openid string, r reply.Reply) error {
		passed = append(passed, openid)
		return nil
	})
	ctx := context.Background()
	for _, c := range []struct{ to, text string }{
		{"console-alice", "one"}, {"oRealUser", "real"}, {"console-bob", "bob's"}, {"console-alice", "two"},
	} {
		if err := send(ctx, c.to, &reply.Text{Content: c.text}); err != nil {
			t.Fatal(err)
		}
	}
	if len(passed) != 1 || passed[0] != "oRealUser" {
		t.Errorf("passed on to WeChat: %v, want only oRealUser", passed)
	}
	got := ib.Since("console-alice", 0)
	if len(got) != 2 || got[0].Reply.(*reply.Text).Content != "one" || got[1].Reply.(*reply.Text).Content != "two" {
		t.Fatalf("alice's inbox = %+v", got)
	}
	if got[0].ID != 1 || got[1].ID != 3 || ib.Last() != 3 {
		t.Errorf("ids %d, %d (last %d): numbered across users in arrival order", got[0].ID, got[1].ID, ib.Last())
	}
	if after := ib.Since("console-alice", got[0].ID); len(after) != 1 || after[0].ID != 3 {
		t.Errorf("Since(first) = %+v", after)
	}
	if none := ib.Since("oRealUser", 0); len(none) != 0 {
		t.Errorf("a real user's message was kept: %+v", none)
	}
}

func TestWithoutAClientRealUsersGetAnError(t *testing.T) {
	ib := inbox.New(inbox.Options{})
	send := ib.Wrap(nil)
	if err := send(context.Background(), "console-x", &reply.Text{Content: "hi"}); err != nil {
		t.Errorf("console user without a Client: %v", err)
	}
	err := send(context.Background(), "oReal", &reply.Text{Content: "hi"})
	if err == nil || !strings.Contains(err.Error(), "app_id") {
		t.Errorf("real user without a Client: %v", err)
	}
}

func TestErrorsOfTheWrappedSenderComeBack(t *testing.T) {
	boom := errors.New("40003 invalid openid")
	send := inbox.New(inbox.Options{}).Wrap(func(context.Context, string, reply.Reply) error { return boom })
	if err := send(context.Background(), "oReal", &reply.Text{}); !errors.Is(err, boom) {
		t.Errorf("got %v", err)
	}
}

func TestBounded(t *testing.T) {
	ib := inbox.New(inbox.Options{PerUser: 3, Users: 2})
	for i := range 5 {
		ib.Add("console-a", &reply.Text{Content: fmt.Sprint(i)})
	}
	got := ib.Since("console-a", 0)
	if len(got) != 3 || got[0].Reply.(*reply.Text).Content != "2" {
		t.Fatalf("per-user bound: %+v", got)
	}
	ib.Add("console-b", &reply.Text{})
	ib.Add("console-a", &reply.Text{}) // a is now fresher than b
	ib.Add("console-c", &reply.Text{}) // a third user: b goes
	if len(ib.Since("console-b", 0)) != 0 || len(ib.Since("console-a", 0)) == 0 || len(ib.Since("console-c", 0)) != 1 {
		t.Errorf("user bound dropped the wrong user")
	}
}

func TestChanged(t *testing.T) {
	ib := inbox.New(inbox.Options{})
	ch := ib.Changed()
	go ib.Add("console-a", &reply.Text{})
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed not closed")
	}
}

func TestIsConsoleUser(t *testing.T) {
	if !inbox.IsConsoleUser("console-alice") || inbox.IsConsoleUser("oAlice") || inbox.IsConsoleUser("Console-x") {
		t.Error("IsConsoleUser")
	}
}
