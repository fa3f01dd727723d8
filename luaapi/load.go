package luaapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// libDir is the folder, inside the scripts folder, that require loads from.
const libDir = "lib"

// maxScriptSize bounds one script file: a bot script of megabytes is a
// mistake (a data file saved as .lua), and every pooled state would run it.
const maxScriptSize = 4 << 20

// version is one loaded set of scripts: every file of the folder compiled
// once. Every Lua state of the pool is made from exactly one version; when
// the scripts change, a new version replaces the old one and states of the
// old version are closed as they come back to the pool.
type version struct {
	seq     uint64
	dir     string // the scripts folder, as configured
	root    string // its real path, where the files were read
	digest  [32]byte
	scripts []*chunk          // top-level scripts, in file-name order
	libs    map[string]*chunk // require name ("menu", "util.text") → module
	refused map[string]string // links out of the folder under lib/ (see sources)

	// Learnt from the state that validated the version.
	hasErrorPage bool
	handlers     int
	report       []registration // what the scripts register, for Loaded

	// loading names the script whose top level the validating state runs,
	// for the error when it does not come back.
	loading atomic.Pointer[string]
}

// chunk is one compiled script file. The proto is immutable and shared by
// every state of the version (gopher-lua documents sharing protos between
// states); each state makes its own closure of it.
type chunk struct {
	name  string // relative to the scripts folder: "hello.lua", "lib/menu.lua"
	proto *lua.FunctionProto
	empty bool // the file had no content (see emptiedFiles)
}

// source is a script file as read from disk.
type source struct {
	name string
	data []byte
}

// sources is what one load read from the scripts folder.
type sources struct {
	dir     string   // the scripts folder, as configured
	root    string   // its real path, where the files were read
	scripts []source // the *.lua directly in it, in file-name order
	libs    []source // the *.lua under lib/
	// refused lists what under lib/ was not read because it is a link to
	// somewhere outside the scripts folder: the path in the folder
	// ("lib/cfg.lua", "lib/vendor") → the real path it leads to.
	refused map[string]string
}

// maxLibDepth bounds how deep lib/ is read, links to folders included.
const maxLibDepth = 16

// readSources reads the scripts of dir: every *.lua directly in it (the
// scripts, in file-name order) and every *.lua under dir/lib (the modules).
// Hidden files and folders (".#hello.lua", ".git") are not scripts.
//
// Nothing outside the scripts folder is read. dir itself may be a link (a
// deploy's current -> releases/N): its target is the folder, resolved
// once, so one load reads one release even if the link changes meanwhile.
// Inside it, links are followed as long as their real path stays in the
// folder. A script that is a link to outside fails the load; a module that
// is one (or a folder of lib/ that is one) is left out, so require says
// it is missing.
func readSources(dir string) (*sources, error) {
	return (&folderReader{}).readSources(dir)
}

// folderReader reads files of one scripts folder through an os.Root, which
// refuses any path, links included, that leads out of it.
type folderReader struct {
	root string   // the folder's real path
	fs   *os.Root // the folder
	// beforeOpen, if set, runs between the check of a file's real path
	// and its opening: tests change the file there.
	beforeOpen func(rel string)
}

func (r *folderReader) readSources(dir string) (*sources, error) {
	root, err := realPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the scripts folder: %w", err)
	}
	r.root = root
	if r.fs, err = os.OpenRoot(root); err != nil {
		return nil, fmt.Errorf("reading the scripts folder: %w", err)
	}
	defer r.fs.Close()
	src := &sources{dir: dir, root: root, refused: map[string]string{}}
	entries, err := fs.ReadDir(r.fs.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("reading the scripts folder: %w", err)
	}
	for _, e := range entries { // sorted by file name
		if !IsScriptName(e.Name()) || e.IsDir() {
			continue
		}
		data, err := r.read(e.Name())
		var out *outsideError
		if errors.As(err, &out) {
			return nil, &Error{File: e.Name(), Message: "not loaded: " + out.Error()}
		}
		if err != nil {
			return nil, err
		}
		if data != nil { // nil: not a regular file (a folder, a dangling link, a fifo)
			src.scripts = append(src.scripts, source{e.Name(), data})
		}
	}
	if err := r.readLib(libDir, nil, src); err != nil {
		return nil, fmt.Errorf("reading %s/: %w", libDir, err)
	}
	return src, nil
}

// realPath is dir's absolute path with every link resolved.
func realPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// outsideError is a file or folder of the scripts folder that is a link to
// somewhere outside it.
type outsideError struct {
	target, root string
}

func (e *outsideError) Error() string {
	return fmt.Sprintf("it is a link to %s, outside the scripts folder (%s)", e.target, e.root)
}

// resolve returns the path, relative to the folder and free of links, that
// rel (slash-separated, relative to the folder) leads to, and what is
// there. A link out of the folder is an *outsideError; a dangling link, or
// a file removed meanwhile, is fs.ErrNotExist.
func (r *folderReader) resolve(rel string) (string, fs.FileInfo, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(r.root, filepath.FromSlash(rel)))
	if err != nil {
		return "", nil, err
	}
	inner, err := filepath.Rel(r.root, real)
	if err != nil || inner == ".." || strings.HasPrefix(inner, ".."+string(filepath.Separator)) || filepath.IsAbs(inner) {
		return "", nil, &outsideError{target: real, root: r.root}
	}
	fi, err := r.fs.Stat(inner)
	return inner, fi, err
}

// read returns the content of the file rel, or nil when it is not a
// regular file or is gone.
//
// The real path is checked first, to name where a link out of the folder
// leads; the file is then opened through the os.Root at that path, which
// refuses links out of the folder by itself. So a file replaced by such a
// link between the check and the open is refused too, never read.
func (r *folderReader) read(rel string) ([]byte, error) {
	inner, fi, err := r.resolve(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // removed while we read the folder; the watcher will reload again
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil
	}
	if r.beforeOpen != nil {
		r.beforeOpen(rel)
	}
	f, err := r.fs.Open(inner)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxScriptSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if len(data) > maxScriptSize {
		return nil, fmt.Errorf("%s: more than a script may have (%d bytes)", rel, maxScriptSize)
	}
	return data, nil
}

// readLib reads the modules under the folder rel (lib/ at first), links to
// folders inside the scripts folder included. ancestors are the folders
// rel is in, so that a link back up (lib/loop -> ..) is not a loop.
func (r *folderReader) readLib(rel string, ancestors []fs.FileInfo, src *sources) error {
	inner, fi, err := r.resolve(rel)
	var out *outsideError
	switch {
	case errors.As(err, &out):
		// Only folders are of interest: a link to some other file
		// outside, with a name that is not a module's, is not refused
		// but ignored, as the file itself would be.
		if fi, err := os.Stat(out.target); rel == libDir || err == nil && fi.IsDir() {
			src.refused[rel] = out.target
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return nil // no lib/, or a folder removed meanwhile
	case err != nil:
		return err
	case !fi.IsDir():
		return nil
	}
	for _, a := range ancestors {
		if os.SameFile(a, fi) {
			return nil
		}
	}
	if len(ancestors) >= maxLibDepth {
		return fmt.Errorf("%s: folders nested more than %d deep", rel, maxLibDepth)
	}
	entries, err := fs.ReadDir(r.fs.FS(), filepath.ToSlash(inner))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	ancestors = append(ancestors, fi)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := rel + "/" + name
		if e.IsDir() || e.Type()&fs.ModeSymlink != 0 && !IsScriptName(name) {
			if err := r.readLib(p, ancestors, src); err != nil {
				return err
			}
			continue
		}
		if !IsScriptName(name) {
			continue
		}
		data, err := r.read(p)
		if errors.As(err, &out) {
			src.refused[p] = out.target
			continue
		}
		if err != nil {
			return err
		}
		if data != nil {
			src.libs = append(src.libs, source{p, data})
		}
	}
	return nil
}

// TestFileSuffix ends the name of a test file of `luarobot test`. Test
// files live beside the scripts but are never loaded as bot scripts or
// modules, and saving one does not reload the bot.
const TestFileSuffix = "_test.lua"

// IsScriptName reports whether a file name is a script (or module): not an
// editor's lock or swap file, nor a test file.
func IsScriptName(name string) bool {
	return strings.HasSuffix(name, ".lua") && !strings.HasPrefix(name, ".") && len(name) > len(".lua") &&
		!strings.HasSuffix(name, TestFileSuffix)
}

// digestSources hashes names and contents, so that a reload triggered by an
// event that changed nothing (a touch, a save without edits, an editor's
// temp file) is skipped.
func digestSources(src *sources) [32]byte {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put([]byte(src.root))
	for _, group := range [][]source{src.scripts, src.libs} {
		for _, s := range group {
			put([]byte(s.name))
			put(s.data)
		}
		h.Write([]byte{0xff})
	}
	for _, name := range sortedKeys(src.refused) {
		put([]byte(name))
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// compileSources compiles every file; the first syntax error is returned as
// an *Error with file and line.
func compileSources(src *sources) (*version, error) {
	v := &version{dir: src.dir, root: src.root, digest: digestSources(src),
		libs: make(map[string]*chunk, len(src.libs)), refused: src.refused}
	for _, s := range src.scripts {
		c, err := compileChunk(s)
		if err != nil {
			return nil, err
		}
		v.scripts = append(v.scripts, c)
	}
	for _, s := range src.libs {
		name := moduleName(s.name)
		if !moduleFileRE.MatchString(strings.TrimSuffix(strings.TrimPrefix(s.name, libDir+"/"), ".lua")) {
			return nil, errorf(s.name, 0, "cannot be required: module file names use letters, digits, '_' and '-' only")
		}
		c, err := compileChunk(s)
		if err != nil {
			return nil, err
		}
		v.libs[name] = c
	}
	return v, nil
}

func compileChunk(s source) (*chunk, error) {
	data := s.data
	empty := len(bytes.TrimSpace(data)) == 0
	// A UTF-8 byte order mark (Windows editors add one) is not Lua.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	// A first line starting with # (a shebang) is skipped, as lua(1) does.
	// Turning it into a comment keeps the line numbers.
	if len(data) > 0 && data[0] == '#' {
		data = append([]byte("--"), data...)
	}
	ast, err := parse.Parse(bytes.NewReader(data), s.name)
	if err != nil {
		return nil, syntaxError(s.name, lineCount(data), err)
	}
	proto, err := lua.Compile(ast, s.name)
	if err != nil {
		return nil, syntaxError(s.name, lineCount(data), err)
	}
	return &chunk{name: s.name, proto: proto, empty: empty}, nil
}

// lineCount is the number of the last line of data.
func lineCount(data []byte) int {
	return bytes.Count(bytes.TrimRight(data, "\n"), []byte("\n")) + 1
}

// moduleName turns "lib/util/text.lua" into the require name "util.text".
func moduleName(rel string) string {
	rel = strings.TrimPrefix(rel, libDir+"/")
	rel = strings.TrimSuffix(rel, ".lua")
	return strings.ReplaceAll(rel, "/", ".")
}

// moduleNameRE is what require accepts: dot-separated names of letters,
// digits, '_' and '-'. No "..", no "/", no absolute paths: a module is a
// file under scripts/lib and nothing else.
var moduleNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// moduleFileRE is what the path of a module file under lib/ may be,
// without its .lua: the names of require with "/" for ".". A dot in a file
// or folder name would give two files one require name (lib/a.b.lua and
// lib/a/b.lua are both "a.b").
var moduleFileRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`)

// modulePath is the file a require name stands for, for messages.
func modulePath(name string) string {
	return path.Join(libDir, strings.ReplaceAll(name, ".", "/")+".lua")
}

// loadVersion reads and compiles dir.
func loadVersion(dir string) (*version, error) {
	src, err := readSources(dir)
	if err != nil {
		return nil, err
	}
	return compileSources(src)
}

// whyMissing explains a require of a module the version does not have
// when the reason is a link out of the scripts folder: the module's file,
// or a folder on its way, is one. It is "" otherwise.
func (v *version) whyMissing(name string) string {
	p := modulePath(name)
	if _, ok := v.refused[p]; ok {
		return p + " is a link to outside the scripts folder, and is not loaded"
	}
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if _, ok := v.refused[dir]; ok {
			return dir + "/ is a link to outside the scripts folder, and nothing in it is loaded"
		}
	}
	return ""
}

// sortedModuleNames lists a version's modules, for logs and reports.
// hasFile reports whether name ("hello.lua", "lib/menu.lua") is one of
// the version's scripts or modules.
func (v *version) hasFile(name string) bool {
	for _, c := range v.scripts {
		if c.name == name {
			return true
		}
	}
	for _, c := range v.libs {
		if c.name == name {
			return true
		}
	}
	return false
}

func (v *version) sortedModuleNames() []string {
	names := make([]string, 0, len(v.libs))
	for n := range v.libs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// emptiedFiles lists the files that have content in old but none in src:
// what an editor that saves by truncating and then writing shows for a
// moment. A reload that read one then waits for the rest of the save.
func emptiedFiles(old *version, src *sources) []string {
	if old == nil {
		return nil
	}
	had := make(map[string]bool, len(old.scripts)+len(old.libs))
	for _, c := range old.scripts {
		had[c.name] = !c.empty
	}
	for _, c := range old.libs {
		had[c.name] = !c.empty
	}
	var out []string
	for _, list := range [][]source{src.scripts, src.libs} {
		for _, f := range list {
			if had[f.name] && len(bytes.TrimSpace(f.data)) == 0 {
				out = append(out, f.name)
			}
		}
	}
	return out
}
