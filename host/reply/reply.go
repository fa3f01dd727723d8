// Package reply holds the replies a bot can give to a message and renders
// them as the passive-reply XML that WeChat expects.
//
// A handler's result is checked with Validate, then written with Render,
// which appends to a caller's buffer so the host can reuse one per request:
//
//	if err := reply.Validate(r); err != nil { ... }
//	buf = reply.Render(buf[:0], r, msg.Source, msg.Target, time.Now().Unix())
//
// Render accepts any string a script produces: it never writes a character
// XML cannot carry and never lets "]]>" end a CDATA section early.
package reply

// Reply is one of the reply types of this package: *Text, *Image, *Voice,
// *Video, *Music, *Articles, *TransferCustomerService or *Success.
type Reply interface {
	// Kind names the reply type as WeChat's MsgType does: "text", "image",
	// "voice", "video", "music", "news", "transfer_customer_service", or
	// "success" for the plain success body.
	Kind() string
}

// Text is a text reply (TextReply).
type Text struct{ Content string }

// Image is an image reply (ImageReply) of an uploaded media.
type Image struct{ MediaID string }

// Voice is a voice reply (VoiceReply) of an uploaded media.
type Voice struct{ MediaID string }

// Video is a video reply (VideoReply).
type Video struct{ MediaID, Title, Description string }

// Music is a music reply (MusicReply). An empty HQURL means URL.
type Music struct{ Title, Description, URL, HQURL, ThumbMediaID string }

// Article is one entry of an Articles reply.
type Article struct{ Title, Description, Img, URL string }

// Articles is a news reply (ArticlesReply).
type Articles struct{ Articles []Article }

// TransferCustomerService hands the conversation to the customer-service
// system; Account optionally names the agent (kf_account).
type TransferCustomerService struct{ Account string }

// Success is the plain "success" body: WeChat shows nothing and does not retry.
type Success struct{}

func (*Text) Kind() string                    { return "text" }
func (*Image) Kind() string                   { return "image" }
func (*Voice) Kind() string                   { return "voice" }
func (*Video) Kind() string                   { return "video" }
func (*Music) Kind() string                   { return "music" }
func (*Articles) Kind() string                { return "news" }
func (*TransferCustomerService) Kind() string { return "transfer_customer_service" }
func (*Success) Kind() string                 { return "success" }
