// Package client is the WeChat Official Account API client: access-token
// management and one method per API endpoint the host wraps.
package client

import (
	"context"
	"errors"

	"github.com/luarobot/luarobot/host/reply"
)

// Client calls the WeChat API on behalf of one Official Account.
type Client struct{}

// SendReply delivers a reply to a user through the customer-service send
// API (used for replies that missed the passive-reply deadline).
func (c *Client) SendReply(ctx context.Context, openid string, r reply.Reply) error {
	return errors.New("client: SendReply is not implemented yet")
}
