package simulate

import (
	"fmt"
	"strings"

	"github.com/luarobot/luarobot/host/reply"
)

// Describe renders an answer the way a person reads it: "success", or the
// reply type and its fields, one per line.
func Describe(body []byte) string {
	p, err := reply.Parse(body)
	if err != nil {
		return fmt.Sprintf("unreadable answer (%v):\n%s", err, body)
	}
	v := reply.ViewOf(p.Reply)
	if v.Type == "success" {
		return "success (no reply shown to the user)"
	}
	var b strings.Builder
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "\n  %s: %s", label, value)
		}
	}
	fmt.Fprintf(&b, "%s reply to %s", v.Type, p.ToUser)
	switch v.Type {
	case "text":
		b.WriteString("\n")
		for _, l := range strings.Split(v.Content, "\n") {
			b.WriteString("  " + l + "\n")
		}
		return strings.TrimRight(b.String(), "\n")
	case "news":
		for i, art := range v.Articles {
			fmt.Fprintf(&b, "\n  [%d] %s", i+1, art.Title)
			line("    description", art.Description)
			line("    img", art.Img)
			line("    url", art.URL)
		}
	case "transfer_customer_service":
		if v.Account != "" {
			line("account", v.Account)
		} else {
			b.WriteString("\n  (any available agent)")
		}
	default:
		v.Fields(line)
	}
	return b.String()
}
