package wxcrypto_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

// vector is one testdata/vectors/*.txt file: "key: value" lines; "contains"
// may repeat.
type vector map[string][]string

func (v vector) get(k string) string {
	if len(v[k]) == 0 {
		return ""
	}
	return v[k][0]
}

func readKeyValues(t *testing.T, path string) vector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := vector{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		v[k] = append(v[k], val)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVectors runs every vector in testdata/vectors: third-party ones (the
// official sample, wechatpy) and those made by the openssl command line (see
// testdata/gen-openssl-vectors.sh). Each file says where it comes from.
func TestVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/vectors/*.txt")
	if err != nil || len(files) < 7 {
		t.Fatalf("vectors: %v, %v", files, err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			v := readKeyValues(t, file)
			want, err := os.ReadFile(filepath.Join("testdata/vectors", v.get("plain")))
			if err != nil {
				t.Fatal(err)
			}
			c, err := wxcrypto.NewCipher(v.get("encoding_aes_key"), v.get("app_id"))
			if err != nil {
				t.Fatal(err)
			}
			enc := v.get("encrypt")

			got, err := c.Decrypt(enc)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Decrypt:\n got %q\nwant %q", got, want)
			}
			for _, s := range v["contains"] {
				if !bytes.Contains(got, []byte(s)) {
					t.Errorf("plaintext lacks %q", s)
				}
			}

			if sig := v.get("msg_signature"); sig != "" {
				token, ts, nonce := v.get("token"), v.get("timestamp"), v.get("nonce")
				if got := wxcrypto.MsgSignature(token, ts, nonce, enc); got != sig {
					t.Errorf("MsgSignature = %s, want %s", got, sig)
				}
				if !wxcrypto.VerifyMsgSignature(token, ts, nonce, enc, sig) {
					t.Error("VerifyMsgSignature refused the vector's signature")
				}
				if wxcrypto.VerifyMsgSignature(token, ts, nonce+"1", enc, sig) {
					t.Error("VerifyMsgSignature accepted a changed nonce")
				}
			}

			if p := v.get("prefix_hex"); p != "" {
				b, err := hex.DecodeString(p)
				if err != nil || len(b) != wxcrypto.PrefixSize {
					t.Fatalf("prefix_hex %q: %v", p, err)
				}
				var prefix [wxcrypto.PrefixSize]byte
				copy(prefix[:], b)
				if got := c.EncryptWithPrefix(prefix, want); got != enc {
					t.Errorf("EncryptWithPrefix:\n got %s\nwant %s", got, enc)
				}
			}

			// Another account's cipher must refuse the message.
			other, err := wxcrypto.NewCipher(v.get("encoding_aes_key"), "wx_other")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Decrypt(enc); err == nil {
				t.Error("Decrypt with another app id succeeded")
			}
		})
	}
}

// TestSignatureFile checks Signature and MsgSignature against
// testdata/signatures.txt, computed with sort(1) and sha1sum(1).
func TestSignatureFile(t *testing.T) {
	data, err := os.ReadFile("testdata/signatures.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		want, args := f[0], f[1:]
		var got string
		switch len(args) {
		case 3:
			got = wxcrypto.Signature(args[0], args[1], args[2])
			if !wxcrypto.VerifySignature(args[0], args[1], args[2], want) {
				t.Errorf("VerifySignature(%q) = false", args)
			}
		case 4:
			got = wxcrypto.MsgSignature(args[0], args[1], args[2], args[3])
		default:
			t.Fatalf("bad line %q", line)
		}
		if got != want {
			t.Errorf("signature of %q = %s, want %s", args, got, want)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("only %d signatures", n)
	}
}
