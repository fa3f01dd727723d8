package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
)

func Example() {
	wx := fakewechat.New("wxappid", "secret") // a fake WeChat; use the real one in production
	defer wx.Close()

	c, err := client.New(client.Options{
		AppID: "wxappid", AppSecret: "secret", APIBase: wx.URL,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	// A method of the reference docs, with Python's positional arguments.
	res, err := c.Invoke(ctx, "get_user_info", "OPENID")
	if err != nil {
		panic(err)
	}
	fmt.Println(res.(map[string]any)["language"])

	// WeChat's errors are *APIError.
	wx.FailOnce("/cgi-bin/menu/create", 40016)
	_, err = c.Invoke(ctx, "create_menu", map[string]any{"button": []any{}})
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Code)
	}
	// Output:
	// zh_CN
	// 40016
}
