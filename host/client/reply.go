package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/luarobot/luarobot/host/reply"
)

// SendReply delivers a reply to a user through the customer-service send
// API (/cgi-bin/message/custom/send): the reply engine uses it for replies
// that missed WeChat's passive-reply deadline. Text, image, voice, video,
// music and news replies can be sent; TransferCustomerService and Success
// only mean something as a passive reply and are an error.
func (c *Client) SendReply(ctx context.Context, openid string, r reply.Reply) error {
	name, argv, err := replyCall(openid, r)
	if err != nil {
		return err
	}
	_, err = c.Invoke(ctx, name, argv...)
	return err
}

// replyCall maps a reply to the send method of the same kind.
func replyCall(openid string, r reply.Reply) (string, []any, error) {
	switch r := r.(type) {
	case *reply.Text:
		return "send_text_message", []any{openid, r.Content}, nil
	case *reply.Image:
		return "send_image_message", []any{openid, r.MediaID}, nil
	case *reply.Voice:
		return "send_voice_message", []any{openid, r.MediaID}, nil
	case *reply.Video:
		return "send_video_message", []any{openid, r.MediaID, optional(r.Title), optional(r.Description)}, nil
	case *reply.Music:
		hq := r.HQURL
		if hq == "" {
			hq = r.URL
		}
		return "send_music_message", []any{openid, r.URL, hq, r.ThumbMediaID, optional(r.Title), optional(r.Description)}, nil
	case *reply.Articles:
		list := make([]any, len(r.Articles))
		for i, a := range r.Articles {
			list[i] = map[string]any{"title": a.Title, "description": a.Description, "url": a.URL, "picurl": a.Img}
		}
		return "send_article_message", []any{openid, list}, nil
	case nil:
		return "", nil, errors.New("wechat send_reply: no reply to send")
	default:
		return "", nil, fmt.Errorf("wechat send_reply: a %s reply cannot be sent through the customer-service API", r.Kind())
	}
}

// optional leaves an empty field out of the message instead of sending "".
func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}
