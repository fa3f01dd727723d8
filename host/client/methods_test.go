package client_test

import (
	"bufio"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/client"
)

var update = flag.Bool("update", false, "rewrite the generated table of docs/client.md")

// referenceMethods reads testdata/methods.txt: method name → the docs that
// list it.
func referenceMethods(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("testdata/methods.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			t.Fatalf("testdata/methods.txt: %q has no source doc", line)
		}
		out[fields[0]] = fields[1:]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEveryReferenceMethodIsWrapped(t *testing.T) {
	ref := referenceMethods(t)
	if len(ref) < 70 {
		t.Fatalf("testdata/methods.txt lists only %d methods", len(ref))
	}
	for name, docs := range ref {
		if _, ok := client.LookupMethod(name); !ok {
			t.Errorf("%s (from %s) has no Client method", name, strings.Join(docs, ", "))
		}
	}
	for _, m := range client.Methods() {
		if _, ok := ref[m.Name]; !ok {
			t.Errorf("%s is wrapped but not listed in testdata/methods.txt", m.Name)
		}
		if m.Source == "" {
			t.Errorf("%s has no Source", m.Name)
		}
	}
}

// The arguments of the methods keep the Python names and order of the
// reference docs (checked here for a sample that has defaults).
func TestSignatures(t *testing.T) {
	for _, want := range []string{
		`send_text_message(user_id, content, kf_account=nil)`,
		`send_music_message(user_id, url, hq_url, thumb_media_id, title=nil, description=nil, kf_account=nil)`,
		`send_mass_msg(msg_type, content, user_list=nil, send_ignore_reprint=false, client_msg_id=nil)`,
		`delete_mass_msg(msg_id, article_idx=0)`,
		`send_mass_preview_to_user(msg_type, content, user, user_type="openid")`,
		`get_user_info(user_id, lang="zh_CN")`,
		`get_users_by_tag(tag_id, next_open_id="")`,
		`send_template_message(user_id, template_id, data, url="", miniprogram=nil)`,
		`generate_jsapi_signature(timestamp, noncestr, url, jsapi_ticket=nil)`,
		`download_media(media_id, save_as=nil)`,
		`get(path_or_url, params=nil)`,
		`post(path_or_url, data=nil, files=nil)`,
		`set_mass_msg_speed(speed)`,
		`add_subscribe_template(tid, kid_list, scene_desc=nil)`,
		`get_subscribe_template_titles(ids, start=0, limit=30)`,
		`send_subscribe_message(user_id, template_id, data, page=nil, miniprogram=nil)`,
		`check_callback(action="all", check_operator="DEFAULT")`,
		`get_api_quota(cgi_path)`,
	} {
		name := want[:strings.IndexByte(want, '(')]
		m, ok := client.LookupMethod(name)
		if !ok {
			t.Errorf("no %s", name)
			continue
		}
		if got := m.Signature(); got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	}
}

const (
	docPath  = "../../docs/client.md"
	docBegin = "<!-- BEGIN GENERATED: go test ./host/client -run TestDocTable -update -->"
	docEnd   = "<!-- END GENERATED -->"
)

// docTable renders the method table of docs/client.md.
func docTable() string {
	var b strings.Builder
	b.WriteString("| Lua call | WeChat endpoint | from | notes |\n| --- | --- | --- | --- |\n")
	for _, m := range client.Methods() {
		endpoint := "computed locally"
		switch {
		case m.HTTPMethod != "":
			endpoint = "`" + m.HTTPMethod + " " + m.Path + "`"
		case m.Path != "":
			endpoint = "`" + m.Path + "` when needed"
		}
		ret := ""
		switch m.Result {
		case client.ResultMedia:
			ret = "returns `bytes, content_type` (or `save_as, content_type`)"
		case client.ResultString:
			ret = "returns a string"
		}
		notes := strings.TrimSpace(strings.Join([]string{m.Note, ret}, "; "))
		notes = strings.Trim(notes, "; ")
		b.WriteString("| `robot.client." + m.Signature() + "` | " + endpoint + " | " + m.Source + " | " + notes + " |\n")
	}
	return b.String()
}

func TestDocTable(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, docBegin), strings.Index(doc, docEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-table markers", docPath)
	}
	want := doc[:i+len(docBegin)] + "\n" + docTable() + doc[j:]
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with the method table: run go test ./host/client -run TestDocTable -update", docPath)
}
