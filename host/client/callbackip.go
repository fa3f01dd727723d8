package client

import (
	"context"
	"fmt"
)

// CallbackIPs returns the addresses WeChat calls the bot from
// (/cgi-bin/getcallbackip): IP addresses and CIDRs, for the callback_ips
// allowlist.
func (c *Client) CallbackIPs(ctx context.Context) ([]string, error) {
	res, err := c.Invoke(ctx, "get_callback_ip")
	if err != nil {
		return nil, err
	}
	list, ok := res.(map[string]any)["ip_list"].([]any)
	if !ok {
		return nil, fmt.Errorf("wechat get_callback_ip: the answer has no ip_list")
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out, nil
}
