package luaapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
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
	dir     string
	digest  [32]byte
	scripts []*chunk          // top-level scripts, in file-name order
	libs    map[string]*chunk // require name ("menu", "util.text") → module

	// Learnt from the state that validated the version.
	hasErrorPage bool
	handlers     int

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
}

// source is a script file as read from disk.
type source struct {
	name string
	data []byte
}

// readSources reads the scripts of dir: every *.lua directly in it (the
// scripts, in file-name order) and every *.lua under dir/lib (the modules).
// Hidden files and folders (".#hello.lua", ".git") are not scripts.
func readSources(dir string) (scripts, libs []source, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the scripts folder: %w", err)
	}
	for _, e := range entries { // os.ReadDir sorts by file name
		if !isScriptName(e.Name()) || e.IsDir() {
			continue
		}
		data, err := readScript(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		if data == nil {
			continue // not a regular file (a dangling link, a fifo)
		}
		scripts = append(scripts, source{e.Name(), data})
	}
	root := filepath.Join(dir, libDir)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isScriptName(d.Name()) {
			return nil
		}
		data, err := readScript(p)
		if err != nil || data == nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		libs = append(libs, source{filepath.ToSlash(rel), data})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s/: %w", libDir, err)
	}
	return scripts, libs, nil
}

// isScriptName reports whether a file name is a script (or module) and not
// an editor's lock or swap file.
func isScriptName(name string) bool {
	return strings.HasSuffix(name, ".lua") && !strings.HasPrefix(name, ".") && len(name) > len(".lua")
}

func readScript(p string) ([]byte, error) {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // removed while we read the folder; the watcher will reload again
		}
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil
	}
	if fi.Size() > maxScriptSize {
		return nil, fmt.Errorf("%s: %d bytes is more than a script may have (%d)", p, fi.Size(), maxScriptSize)
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if data == nil && err == nil {
		data = []byte{}
	}
	return data, err
}

// digestSources hashes names and contents, so that a reload triggered by an
// event that changed nothing (a touch, a save without edits, an editor's
// temp file) is skipped.
func digestSources(scripts, libs []source) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, group := range [][]source{scripts, libs} {
		for _, s := range group {
			binary.LittleEndian.PutUint64(n[:], uint64(len(s.name)))
			h.Write(n[:])
			h.Write([]byte(s.name))
			binary.LittleEndian.PutUint64(n[:], uint64(len(s.data)))
			h.Write(n[:])
			h.Write(s.data)
		}
		h.Write([]byte{0xff})
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// compileSources compiles every file; the first syntax error is returned as
// an *Error with file and line.
func compileSources(dir string, scripts, libs []source) (*version, error) {
	v := &version{dir: dir, digest: digestSources(scripts, libs), libs: make(map[string]*chunk, len(libs))}
	for _, s := range scripts {
		c, err := compileChunk(s)
		if err != nil {
			return nil, err
		}
		v.scripts = append(v.scripts, c)
	}
	for _, s := range libs {
		name := moduleName(s.name)
		if !moduleNameRE.MatchString(name) {
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
	return &chunk{name: s.name, proto: proto}, nil
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

// modulePath is the file a require name stands for, for messages.
func modulePath(name string) string {
	return path.Join(libDir, strings.ReplaceAll(name, ".", "/")+".lua")
}

// loadVersion reads and compiles dir.
func loadVersion(dir string) (*version, error) {
	scripts, libs, err := readSources(dir)
	if err != nil {
		return nil, err
	}
	return compileSources(dir, scripts, libs)
}

// sortedModuleNames lists a version's modules, for logs and reports.
func (v *version) sortedModuleNames() []string {
	names := make([]string, 0, len(v.libs))
	for n := range v.libs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
