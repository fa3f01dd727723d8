package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/textproto"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// checkMediaPath refuses paths that name something outside media_dir
// before touching the file system, so the error says what is wrong. os.Root
// then also refuses symbolic links that lead out.
func (c *Client) checkMediaPath(method, rel string) (string, error) {
	if rel == "" {
		return "", &ArgError{Method: method, Msg: "the media path is empty"}
	}
	p := filepath.FromSlash(rel)
	if filepath.IsAbs(p) || strings.HasPrefix(rel, "/") || !filepath.IsLocal(p) {
		return "", fmt.Errorf("wechat %s: %q: %w %q (give a path relative to it, without ..)", method, rel, ErrMediaPath, c.mediaDir)
	}
	return p, nil
}

// mediaError words the errors of os.Root for people: a path that escapes
// through a symbolic link is ErrMediaPath, the rest keep their cause.
func (c *Client) mediaError(method, rel string, err error) error {
	// os.Root's escape error is not exported; its text is stable.
	if strings.Contains(err.Error(), "escapes from parent") {
		return fmt.Errorf("wechat %s: %q: %w %q (it leads out through a symbolic link)", method, rel, ErrMediaPath, c.mediaDir)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("wechat %s: media file %q in media_dir %q: %w", method, rel, c.mediaDir, err)
}

// readMedia reads an upload from media_dir (from Options.DownloadDir
// first, when set) and returns its file name.
func (c *Client) readMedia(method, rel string) (string, []byte, error) {
	p, err := c.checkMediaPath(method, rel)
	if err != nil {
		return "", nil, err
	}
	f, err := c.openDownloaded(p)
	if err != nil {
		return "", nil, c.mediaError(method, rel, err)
	}
	if f == nil {
		root, err := os.OpenRoot(c.mediaDir)
		if err != nil {
			return "", nil, fmt.Errorf("wechat %s: media_dir: %w", method, err)
		}
		defer root.Close()
		if f, err = root.Open(p); err != nil {
			return "", nil, c.mediaError(method, rel, err)
		}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", nil, c.mediaError(method, rel, err)
	}
	if !st.Mode().IsRegular() {
		return "", nil, fmt.Errorf("wechat %s: media file %q is not a regular file", method, rel)
	}
	if st.Size() > maxUpload {
		return "", nil, fmt.Errorf("wechat %s: media file %q is larger than %d bytes", method, rel, maxUpload)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil {
		return "", nil, c.mediaError(method, rel, err)
	}
	return filepath.Base(p), data, nil
}

// openDownloaded opens p in Options.DownloadDir: nil, nil when there is
// none or p is not there.
func (c *Client) openDownloaded(p string) (*os.File, error) {
	if c.downloadDir == "" {
		return nil, nil
	}
	root, err := os.OpenRoot(c.downloadDir)
	if err == nil {
		defer root.Close()
		var f *os.File
		if f, err = root.Open(p); err == nil {
			return f, nil
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return nil, err
}

// saveDir is where downloads are saved.
func (c *Client) saveDir() string {
	if c.downloadDir != "" {
		return c.downloadDir
	}
	return c.mediaDir
}

// saveMedia writes a download into media_dir (Options.DownloadDir when
// set), creating the folders on the way (media_dir itself too).
func (c *Client) saveMedia(method, rel string, data []byte) error {
	p, err := c.checkMediaPath(method, rel)
	if err != nil {
		return err
	}
	// Before anything is created: not even an empty folder lands there.
	if err := c.checkForbidden(method, rel, p); err != nil {
		return err
	}
	if err := os.MkdirAll(c.saveDir(), 0o755); err != nil {
		return fmt.Errorf("wechat %s: media_dir: %w", method, err)
	}
	root, err := os.OpenRoot(c.saveDir())
	if err != nil {
		return fmt.Errorf("wechat %s: media_dir: %w", method, err)
	}
	defer root.Close()
	// os.Root has no MkdirAll before Go 1.25.
	dir := filepath.Dir(p)
	if dir != "." {
		parts := strings.Split(dir, string(filepath.Separator))
		for i := range parts {
			err := root.Mkdir(filepath.Join(parts[:i+1]...), 0o755)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return c.mediaError(method, rel, err)
			}
		}
	}
	f, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return c.mediaError(method, rel, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return c.mediaError(method, rel, err)
	}
	if err := f.Close(); err != nil {
		return c.mediaError(method, rel, err)
	}
	return nil
}

// checkForbidden refuses to save the download rel (p once checked) when
// it would land in or under one of Options.ForbiddenDirs. os.Root keeps a
// download inside media_dir, but media_dir may overlap the scripts folder
// (media_dir = ".", or a symbolic link inside media_dir that points there),
// and a .lua file saved there is code that hot reload runs. Both sides are
// compared with their symbolic links resolved as far as they exist, and
// the folders that exist also by identity (os.SameFile), which holds on
// case-insensitive file systems.
func (c *Client) checkForbidden(method, rel, p string) error {
	if len(c.forbiddenDirs) == 0 {
		return nil
	}
	target, err := resolvePath(filepath.Join(c.saveDir(), p))
	if err != nil {
		return fmt.Errorf("wechat %s: %q: %w", method, rel, err)
	}
	for _, d := range c.forbiddenDirs {
		dir, err := resolvePath(d)
		if err != nil {
			return fmt.Errorf("wechat %s: %q: checking against %q: %w", method, rel, d, err)
		}
		if inside(target, dir) {
			return fmt.Errorf("wechat %s: %q is inside %q: %w (media_dir %q overlaps it, and a file saved there could be loaded as code)",
				method, rel, d, ErrForbiddenDir, c.mediaDir)
		}
	}
	return nil
}

// inside reports whether target is dir or lies under it: by name, or, for
// the folders of target that exist, by identity with dir.
func inside(target, dir string) bool {
	if r, err := filepath.Rel(dir, target); err == nil && (r == "." || filepath.IsLocal(r)) {
		return true
	}
	dirInfo, err := os.Stat(dir)
	if err != nil {
		return false
	}
	for a := target; ; a = filepath.Dir(a) {
		if fi, err := os.Stat(a); err == nil && os.SameFile(fi, dirInfo) {
			return true
		}
		if filepath.Dir(a) == a {
			return false
		}
	}
}

// resolvePath makes p absolute with its symbolic links resolved as far as
// the path exists; the part that does not exist yet is kept as it is. A
// symbolic link that points to nothing yet is followed too: saving through
// it would create what it points to.
func resolvePath(p string) (string, error) {
	cur, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for hops := 0; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		}
		if fi, err := os.Lstat(cur); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if hops++; hops > 40 {
				return "", fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			link, err := os.Readlink(cur)
			if err != nil {
				return "", err
			}
			if !filepath.IsAbs(link) {
				link = filepath.Join(filepath.Dir(cur), link)
			}
			cur = filepath.Clean(link)
			continue
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return filepath.Join(cur, rest), nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// multipartForm is an upload: files and plain fields.
type multipartForm struct {
	files  []filePart
	fields [][2]string
}

type filePart struct {
	field, name string
	data        []byte
}

// encode writes the form. The whole body is built in memory so that the
// retry after a token refresh can send it again.
func (f *multipartForm) encode() ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, fp := range f.files {
		name := asciiName(fp.name)
		h := textproto.MIMEHeader{}
		// Written by hand: WeChat rejects RFC 2231 (filename*=) names, and
		// reads the extension to check the media type.
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, fp.field, name))
		h.Set("Content-Type", mediaType(name))
		part, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(fp.data); err != nil {
			return nil, "", err
		}
	}
	for _, kv := range f.fields {
		if err := w.WriteField(kv[0], kv[1]); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// asciiName makes a file name safe for WeChat's multipart parser: letters,
// digits, '.', '-' and '_' stay, anything else becomes '_'; a name with no
// letter or digit left (a Chinese name) becomes "media" plus the extension.
func asciiName(name string) string {
	name = path.Base(filepath.ToSlash(name))
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	clean := func(s string) (string, bool) {
		var b strings.Builder
		meaningful := false
		for _, r := range s {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
				b.WriteRune(r)
				meaningful = true
			case r == '.' || r == '-' || r == '_':
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
		}
		return b.String(), meaningful
	}
	stem, ok := clean(stem)
	if !ok {
		stem = "media"
	}
	if ext != "" {
		if e, ok := clean(ext[1:]); ok {
			return stem + "." + e
		}
	}
	return stem
}

// replaceExt gives name the extension ext ("mp3" or ".mp3").
func replaceExt(name, ext string) string {
	ext = "." + strings.TrimPrefix(ext, ".")
	return strings.TrimSuffix(name, filepath.Ext(name)) + ext
}

// mediaTypes covers WeChat's media formats, which Go's built-in table
// (used when the system has no mime.types) partly lacks.
var mediaTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".bmp": "image/bmp",
	".amr": "audio/amr", ".mp3": "audio/mpeg", ".wma": "audio/x-ms-wma", ".wav": "audio/wav", ".speex": "audio/speex",
	".mp4": "video/mp4",
}

func mediaType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := mediaTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
