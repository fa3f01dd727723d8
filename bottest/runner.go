package bottest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/store"
)

// Limits of one test file.
const (
	// defaultTimeout bounds one test: a runaway loop in a test function
	// stops there (the bot's own calls are bounded by handler_timeout).
	defaultTimeout = 5 * time.Minute
	// loadTimeout bounds a test file's top level.
	loadTimeout = 30 * time.Second
)

// Options configures Run.
type Options struct {
	// Dir is the scripts folder whose *_test.lua files run (default
	// "scripts").
	Dir string
	// Run, when set, is a regular expression: only the tests whose names
	// it matches run.
	Run string
	// Verbose shows every delivery and the bot's log under each test.
	Verbose bool
	// Out receives the report (default os.Stdout).
	Out io.Writer
	// Timeout bounds each test (default 5 minutes).
	Timeout time.Duration
}

// Result counts the tests. A test file or a scripts folder that does not
// load counts as one failure.
type Result struct {
	Passed, Failed int
}

// runner is one Run.
type runner struct {
	opts   Options
	filter *regexp.Regexp
	out    io.Writer
	sink   *logSink
	logger *slog.Logger
	res    Result
}

// Run runs the tests of the folder and writes the report: a line per test
// ("ok name", or "FAIL name: file:line: what was expected and what came"),
// then "N passed, M failed". The error is for what stops the run itself
// (a folder that cannot be read, a bad Run pattern); failing tests are in
// the Result.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Dir == "" {
		opts.Dir = "scripts"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	r := &runner{opts: opts, out: opts.Out, sink: newLogSink()}
	if r.out == nil {
		r.out = os.Stdout
	}
	r.logger = slog.New(r.sink)
	if opts.Run != "" {
		re, err := regexp.Compile(opts.Run)
		if err != nil {
			return Result{}, fmt.Errorf("--run: %w", err)
		}
		r.filter = re
	}
	files, err := testFiles(opts.Dir)
	if err != nil {
		return Result{}, err
	}
	// The scripts load once first: when they do not, every test would
	// fail the same way; and a script that does not load fails the run
	// even where there is no test.
	rep, err := luaapi.Check(opts.Dir)
	switch {
	case err == nil && rep.OK() && len(files) == 0:
		fmt.Fprintf(r.out, "no test files (*%s) in %s\n", luaapi.TestFileSuffix, opts.Dir)
		return Result{}, nil
	case err != nil:
		r.failLine(opts.Dir, "the scripts do not load: "+err.Error())
		r.res.Failed++
	case !rep.OK():
		for _, e := range rep.Errors {
			r.failLine(opts.Dir, fmt.Sprint(e))
		}
		r.res.Failed++
	default:
		for _, name := range files {
			r.runFile(ctx, name)
		}
	}
	fmt.Fprintf(r.out, "%d passed, %d failed\n", r.res.Passed, r.res.Failed)
	return r.res, nil
}

// testFiles lists the *_test.lua files directly in dir, by name.
func testFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the tests: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), luaapi.TestFileSuffix) && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// testFile is one *_test.lua: its sandboxed state, the tests it declared
// and the configuration of their bots.
type testFile struct {
	run     *runner
	name    string
	sb      *luaapi.Sandbox
	cfg     fileConfig    // what test.config set
	config  config.Config // the configuration of the file's bots
	tests   []testDef
	loaded  bool      // the top level has run: test() and test.config are closed
	current *testCase // the test running now
}

type testDef struct {
	name string
	fn   *lua.LFunction
}

func (r *runner) runFile(ctx context.Context, name string) {
	src, err := os.ReadFile(filepath.Join(r.opts.Dir, name))
	if err != nil {
		r.fileFailed(name, err)
		return
	}
	f := &testFile{run: r, name: name}
	f.sb, err = luaapi.NewSandbox(luaapi.SandboxOptions{Dir: r.opts.Dir, Logger: r.logger, Now: f.now, Values: botValues{f}})
	if err != nil {
		r.fileFailed(name, err)
		return
	}
	defer f.sb.Close()
	L := f.sb.State()
	L.SetGlobal("test", f.testGlobal(L))
	loadCtx, cancel := context.WithTimeout(ctx, loadTimeout)
	fileLog := &testLog{}
	r.sink.to(fileLog)
	err = f.sb.Run(loadCtx, name, src)
	r.sink.to(nil)
	cancel()
	f.loaded = true
	if err == nil {
		f.config, err = f.cfg.botConfig(r.opts.Dir)
	}
	if err != nil {
		r.fileFailed(name, err)
		r.printLines(fileLog.all())
		return
	}
	for _, t := range f.tests {
		if r.filter != nil && !r.filter.MatchString(t.name) {
			continue
		}
		r.runTest(ctx, f, t)
	}
}

func (r *runner) fileFailed(name string, err error) {
	r.failLine(name, err.Error())
	r.res.Failed++
}

// failLine writes "FAIL name: why"; the lines of a why of several lines
// after the first are indented, so that every line of the report that
// starts at the margin is a test's or the summary.
func (r *runner) failLine(name, why string) {
	fmt.Fprintf(r.out, "FAIL %s: %s\n", name, strings.ReplaceAll(why, "\n", "\n    "))
}

// setConfig applies a test.config call: the file's bots get the keys it
// sets (a later call adds to or replaces an earlier one's). A bad value is
// an error here, at the call's line.
func (f *testFile) setConfig(t *lua.LTable) error {
	if err := f.cfg.set(t); err != nil {
		return err
	}
	_, err := f.cfg.botConfig(f.run.opts.Dir)
	return err
}

// now is the clock of the test file's os.time and os.date: the running
// test's fake clock.
func (f *testFile) now() time.Time {
	if f.current != nil {
		return f.current.clock.Now()
	}
	return time.Now()
}

// testGlobal makes the global test: test(name, fn) declares a test,
// test.config{...} configures the file's bots.
func (f *testFile) testGlobal(L *lua.LState) *lua.LTable {
	t := L.CreateTable(0, 1)
	t.RawSetString("config", L.NewFunction(func(L *lua.LState) int {
		if f.loaded {
			L.RaiseError("test.config is called at the top level of a test file, not in a test")
		}
		if err := f.setConfig(L.CheckTable(1)); err != nil {
			L.RaiseError("test.config: %s", err)
		}
		return 0
	}))
	mt := L.CreateTable(0, 2)
	mt.RawSetString("__call", L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(2)
		fn := L.CheckFunction(3)
		if f.loaded {
			L.RaiseError("test(%q, ...) is called at the top level of a test file, not in a test", name)
		}
		f.tests = append(f.tests, testDef{name: name, fn: fn})
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(t, mt)
	return t
}

func (r *runner) runTest(parent context.Context, f *testFile, def testDef) {
	ctx, cancel := context.WithTimeout(parent, r.opts.Timeout)
	defer cancel()
	tc := newTestCase(ctx, f, def.name)
	f.current = tc
	r.sink.to(tc.log)
	_, err := f.sb.Call(ctx, def.fn, tc.newT(f.sb.State()))
	tc.close()
	r.sink.to(nil)
	f.current = nil
	if err != nil && tc.failed == nil {
		tc.fail("", testError(ctx, err, r.opts.Timeout))
	}
	if tc.failed == nil {
		r.res.Passed++
		fmt.Fprintf(r.out, "ok %s\n", def.name)
	} else {
		r.res.Failed++
		r.failLine(def.name, tc.failed.String())
	}
	if r.opts.Verbose || tc.failed != nil {
		r.printLines(tc.log.all())
	} else {
		r.printLines(tc.log.hostErrors())
	}
}

// testError is the failure of a test that raised an error: the error as
// Lua shows it (file:line: message), or the test's own timeout.
func testError(ctx context.Context, err error, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		var le *luaapi.Error
		if errors.As(err, &le) && le.File != "" {
			return fmt.Sprintf("%s:%d: stopped: the test ran longer than %s", le.File, le.Line, timeout)
		}
		return fmt.Sprintf("stopped: the test ran longer than %s", timeout)
	}
	return err.Error()
}

// printLines writes lines under a test's line, indented.
func (r *runner) printLines(lines []string) {
	for _, l := range lines {
		fmt.Fprintf(r.out, "    %s\n", strings.ReplaceAll(l, "\n", "\n    "))
	}
}

// parseAdvance reads t.clock:advance's duration: seconds, or a duration
// text ("31m", "2h"), days included ("7d").
func parseAdvance(v lua.LValue) (time.Duration, error) {
	const usage = `a duration such as "31m", "2h" or "7d", or a number of seconds`
	var d time.Duration
	switch v := v.(type) {
	case lua.LNumber:
		return secondsToAdvance(float64(v), usage)
	case lua.LString:
		s := strings.TrimSpace(string(v))
		if strings.HasPrefix(s, "-") {
			return 0, errors.New("the clock only moves forward")
		}
		if days, ok := strings.CutSuffix(s, "d"); ok {
			n, err := strconv.ParseFloat(days, 64)
			if err != nil {
				return 0, errors.New(usage)
			}
			return secondsToAdvance(n*24*60*60, usage)
		}
		var err error
		if d, err = config.ParseDuration(s); err != nil {
			return 0, errors.New(usage)
		}
	default:
		return 0, errors.New(usage)
	}
	if d < 0 {
		return 0, errors.New("the clock only moves forward")
	}
	return d, nil
}

// maxAdvance is the longest step of the fake clock: a time.Duration holds
// about 292 years, and a step past it would wrap round to the past.
const maxAdvance = 100 * 365 * 24 * time.Hour

// secondsToAdvance converts a number of seconds to a step of the clock,
// checked before the conversion: a float too large for a time.Duration
// converts to nonsense.
func secondsToAdvance(seconds float64, usage string) (time.Duration, error) {
	switch {
	case math.IsNaN(seconds):
		return 0, errors.New(usage)
	case seconds < 0:
		return 0, errors.New("the clock only moves forward")
	case seconds > maxAdvance.Seconds():
		return 0, fmt.Errorf("%g seconds is more than the clock moves at once (at most %d years)", seconds, int(maxAdvance.Hours()/24/365))
	}
	return time.Duration(seconds * float64(time.Second)), nil
}

// botValues is the store of t.store: the running test's bot's, built on
// first use so that robot.on_load has run when a test reads what it
// stored.
type botValues struct{ f *testFile }

func (v botValues) values() store.Values {
	tc := v.f.current
	if tc == nil {
		v.f.sb.State().RaiseError("t.store is used in a test")
	}
	tc.ensureBot(v.f.sb.State())
	return tc.store
}

func (v botValues) Get(ctx context.Context, key string) ([]byte, error) {
	return v.values().Get(ctx, key)
}

func (v botValues) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return v.values().Set(ctx, key, value, ttl)
}

func (v botValues) Delete(ctx context.Context, key string) error {
	return v.values().Delete(ctx, key)
}

func (v botValues) Incr(ctx context.Context, key string, n int64) (int64, error) {
	return v.values().Incr(ctx, key, n)
}
