package simulate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Line is one line typed in a simulated conversation (`luarobot simulate
// -i`): a message to send, or a request for help or to stop.
type Line struct {
	Spec Spec // the message, when Send is set; From, To and Time are the caller's
	Send bool
	Help bool
	Quit bool
}

// lineCommand is one slash command of a conversation.
type lineCommand struct {
	name, args, help string
	build            func(args []string) (Spec, error)
}

// lineCommands are the slash commands, in the order LineHelp lists them.
var lineCommands = []lineCommand{
	{"click", "KEY", "a menu click with that key", func(a []string) (Spec, error) {
		if len(a) != 1 {
			return Spec{}, fmt.Errorf("want one key")
		}
		return Spec{Type: "click", Key: a[0]}, nil
	}},
	{"subscribe", "[KEY]", "a follow (with a QR scene key: qrscene_KEY)", func(a []string) (Spec, error) {
		switch len(a) {
		case 0:
			return Spec{Type: "subscribe"}, nil
		case 1:
			return Spec{Type: "subscribe", Key: "qrscene_" + strings.TrimPrefix(a[0], "qrscene_")}, nil
		}
		return Spec{}, fmt.Errorf("want at most one key")
	}},
	{"unsubscribe", "", "an unfollow", func(a []string) (Spec, error) {
		if len(a) != 0 {
			return Spec{}, fmt.Errorf("takes no arguments")
		}
		return Spec{Type: "unsubscribe"}, nil
	}},
	{"location", "X Y [LABEL]", "a location message (latitude, longitude)", func(a []string) (Spec, error) {
		if len(a) < 2 {
			return Spec{}, fmt.Errorf("want latitude and longitude, e.g. /location 39.9 116.4 天安门")
		}
		for _, n := range a[:2] {
			if !isDecimal(n) {
				return Spec{}, fmt.Errorf("%q is not a number", n)
			}
		}
		f := map[string]string{"location_x": a[0], "location_y": a[1]}
		if len(a) > 2 {
			f["label"] = strings.Join(a[2:], " ")
		}
		return Spec{Type: "location", Fields: f}, nil
	}},
	{"image", "[URL]", "an image message", func(a []string) (Spec, error) {
		s := Spec{Type: "image"}
		if len(a) > 0 {
			s.Fields = map[string]string{"img": a[0]}
		}
		return s, nil
	}},
	{"voice", "[TEXT]", "a voice message, with its recognised text", func(a []string) (Spec, error) {
		return Spec{Type: "voice", Text: strings.Join(a, " ")}, nil
	}},
	{"view", "URL", "a click on a menu link", func(a []string) (Spec, error) {
		if len(a) != 1 {
			return Spec{}, fmt.Errorf("want one URL")
		}
		return Spec{Type: "view", Key: a[0]}, nil
	}},
	{"scan", "KEY", "a QR code scan by a follower", func(a []string) (Spec, error) {
		if len(a) != 1 {
			return Spec{}, fmt.Errorf("want one scene key")
		}
		return Spec{Type: "scan", Key: a[0]}, nil
	}},
}

// LineCommands lists the slash commands' names, for suggestions.
func LineCommands() []string {
	names := []string{"help", "quit"}
	for _, c := range lineCommands {
		names = append(names, c.name)
	}
	return names
}

// LineHelp describes what a conversation line may be.
func LineHelp() string {
	var b strings.Builder
	b.WriteString("Type a text message, or:\n")
	for _, c := range lineCommands {
		fmt.Fprintf(&b, "  /%-24s %s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
	}
	b.WriteString("  /help                     this list\n")
	b.WriteString("  /quit                     end (as does end of input)\n")
	b.WriteString("A text that starts with / is written with two: //start sends \"/start\".\n")
	return b.String()
}

// ParseLine reads one line of a conversation: a text message, or a slash
// command. An empty line sends nothing.
func ParseLine(text string) (Line, error) {
	text = strings.TrimRight(text, "\r\n")
	if strings.TrimSpace(text) == "" {
		return Line{}, nil
	}
	if !strings.HasPrefix(text, "/") {
		return Line{Send: true, Spec: Spec{Type: "text", Text: text}}, nil
	}
	if strings.HasPrefix(text, "//") {
		return Line{Send: true, Spec: Spec{Type: "text", Text: text[1:]}}, nil
	}
	words := strings.Fields(text[1:])
	name := ""
	if len(words) > 0 {
		name = strings.ToLower(words[0])
		words = words[1:]
	}
	switch name {
	case "help", "?":
		return Line{Help: true}, nil
	case "quit", "exit", "q":
		return Line{Quit: true}, nil
	}
	for _, c := range lineCommands {
		if c.name == name {
			spec, err := c.build(words)
			if err != nil {
				return Line{}, fmt.Errorf("/%s %s: %v", c.name, c.args, err)
			}
			return Line{Send: true, Spec: spec}, nil
		}
	}
	return Line{}, fmt.Errorf("unknown command /%s", name)
}

// isDecimal reports whether s is a finite number written in decimal
// ("39.9", "-1e3"): what WeChat writes and what the handlers get as a
// number. strconv.ParseFloat also takes "NaN", "Inf" and hex floats
// ("0x1p3"), which would reach the handlers as text.
func isDecimal(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && strings.Trim(s, "+-0123456789.eE") == ""
}
