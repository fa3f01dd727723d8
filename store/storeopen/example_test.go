package storeopen_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/storeopen"
)

// Open the default store, a bbolt file, save a user's session and count
// messages in robot.store.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "luarobot-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := storeopen.Open(store.Options{
		Kind: "bolt", // session_storage
		Path: filepath.Join(dir, "luarobot.db"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.SaveSession(ctx, "oUser1", []byte(`{"count":1}`)); err != nil {
		log.Fatal(err)
	}
	session, _ := s.LoadSession(ctx, "oUser1")
	n, _ := s.Incr(ctx, "messages", 1)
	fmt.Printf("%s %d\n", session, n)

	_, err = storeopen.Open(store.Options{Kind: "mongo"})
	fmt.Println(err)
	// Output:
	// {"count":1} 1
	// session_storage: unknown kind "mongo" (want bolt, redis, memory or off)
}
