package luaapi

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Error is a script error: where in the scripts folder it happened and what
// went wrong. Every error a script causes — a syntax error, a failing top
// level, a handler that raises or returns something unusable — reaches the
// caller as an *Error, so that the host and `luarobot check` print
// "hello.lua:12: attempt to index a nil value" and nothing more is needed
// to find the line.
type Error struct {
	// File is the script's path relative to the scripts folder
	// ("hello.lua", "lib/menu.lua"); empty when the error has no position.
	File string
	// Line is the line in File, 0 when unknown.
	Line int
	// Message says what went wrong, without the position.
	Message string
	// Trace lists the script positions ("hello.lua:10") of the calls that
	// led to the error, innermost first.
	Trace []string

	err error // what errors.Is sees: ErrTimeout for a call that was stopped
}

// Error returns "file:line: message", followed by "(called from ...)" when
// the error happened in a function called from elsewhere (a module's
// function, a helper).
func (e *Error) Error() string {
	var s string
	switch {
	case e.File != "" && e.Line > 0:
		s = e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Message
	case e.File != "":
		s = e.File + ": " + e.Message
	default:
		s = e.Message
	}
	here := e.File + ":" + strconv.Itoa(e.Line)
	var from []string
	for _, p := range e.Trace {
		if p != here && (len(from) == 0 || from[len(from)-1] != p) {
			from = append(from, p)
		}
	}
	if len(from) > 0 {
		s += " (called from " + strings.Join(from, ", ") + ")"
	}
	return s
}

// Unwrap returns ErrTimeout for a call stopped at its deadline.
func (e *Error) Unwrap() error { return e.err }

// ErrTimeout is wrapped by the error of a Lua call that did not finish within
// Options.HandlerTimeout.
var ErrTimeout = errors.New("handler timed out")

// ErrClosed is returned by a Runtime after Close.
var ErrClosed = errors.New("luaapi: runtime closed")

// positionRE matches the "file.lua:12: " prefix that gopher-lua puts in front
// of runtime errors.
var positionRE = regexp.MustCompile(`^([^\s:]+\.lua):(\d+):\s?`)

// splitPosition separates "hello.lua:12: message" into its parts.
func splitPosition(msg string) (file string, line int, rest string) {
	m := positionRE.FindStringSubmatchIndex(msg)
	if m == nil {
		return "", 0, msg
	}
	line, _ = strconv.Atoi(msg[m[4]:m[5]])
	return msg[m[2]:m[3]], line, msg[m[1]:]
}

// syntaxError converts what parse.Parse and lua.Compile report into an
// *Error naming the file and line; lines is the file's line count, where an
// error "at the end of the file" is reported.
func syntaxError(name string, lines int, err error) *Error {
	var perr *parse.Error
	if errors.As(err, &perr) {
		msg := perr.Message
		if perr.Pos.Line == parse.EOF {
			return &Error{File: name, Line: lines, Message: msg + " at the end of the file"}
		}
		if perr.Token != "" {
			msg += " near '" + perr.Token + "'"
		}
		return &Error{File: name, Line: perr.Pos.Line, Message: msg}
	}
	var cerr *lua.CompileError
	if errors.As(err, &cerr) {
		return &Error{File: name, Line: cerr.Line, Message: cerr.Message}
	}
	return &Error{File: name, Message: strings.TrimSpace(err.Error())}
}

// callError converts the error of a protected Lua call into an *Error. When
// the error carries no position of its own (error{...} with a table,
// error("x", 0), a Go panic), the position is the innermost script line of
// the traceback — where error was called — or, without one, where fn, the
// function that was called, is defined. ctx is the call's context, so that
// a cancellation reads as a timeout rather than as "context deadline
// exceeded".
func callError(ctx context.Context, err error, fn *lua.LFunction) *Error {
	var msg string
	var trace []string
	var aerr *lua.ApiError
	if errors.As(err, &aerr) {
		msg = errorText(aerr.Object)
		trace = tracePositions(aerr.StackTrace)
	} else {
		msg = err.Error()
	}
	file, line, rest := splitPosition(strings.TrimSpace(msg))
	e := &Error{File: file, Line: line, Message: rest, Trace: trace}
	if e.File == "" && len(trace) > 0 {
		e.File, e.Line = splitTracePosition(trace[0])
	}
	if e.File == "" && fn != nil && fn.Proto != nil {
		e.File, e.Line = fn.Proto.SourceName, fn.Proto.LineDefined
	}
	if ctx != nil && ctx.Err() != nil {
		switch {
		case isCancellation(rest, ctx):
			s := stopped(ctx, "")
			e.Message, e.err = s.Message, s.err
		case strings.HasPrefix(rest, "stopped: "):
			// Raised by our own code (state.wait) with the reason in it.
			e.err = stopped(ctx, "").err
		}
	}
	return e
}

// stopped is the error of a call stopped because ctx ended: at its
// deadline (ErrTimeout), by the memory watch (ErrMemoryLimit) or because
// the request was cancelled. what, if not empty, says what the call was
// doing.
func stopped(ctx context.Context, what string) *Error {
	e := &Error{Message: "stopped: still running at handler_timeout", err: ErrTimeout}
	var mem *memoryStop
	switch {
	case errors.As(context.Cause(ctx), &mem):
		e.Message, e.err = "stopped: "+mem.Error(), ErrMemoryLimit
	case !errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Message, e.err = "stopped: the request was cancelled", ctx.Err()
	}
	if what != "" {
		e.Message += " (" + what + ")"
	}
	return e
}

// isCancellation reports whether a Lua error message is gopher-lua's
// reaction to the call's context ending.
func isCancellation(msg string, ctx context.Context) bool {
	return strings.Contains(msg, ctx.Err().Error())
}

// errorText renders a Lua error value. Strings are themselves; a table gets
// its JSON form so that error{code = 1} still says something useful.
func errorText(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case *lua.LTable:
		// Short: it is a log line. A longer one is cut (and is no longer
		// valid JSON, which a reader of the log forgives).
		e := jsonEncoder{limit: maxErrorJSON}
		err := e.value(v, 0)
		var lerr *limitError
		switch {
		case err == nil:
			return "error " + string(e.buf)
		case errors.As(err, &lerr):
			return "error " + string(e.buf) + "..."
		}
	}
	return "error " + v.String()
}

// maxErrorJSON bounds the JSON text of an error table in a message.
const maxErrorJSON = 4 << 10

// tracePositions keeps the script positions of a gopher-lua traceback:
// "hello.lua:5: in function 'f'" gives "hello.lua:5"; the Go frames
// ("[G]: in function 'error'") say nothing to a script author.
func tracePositions(tb string) []string {
	var out []string
	for _, l := range strings.Split(tb, "\n") {
		l = strings.TrimSpace(l)
		i := strings.Index(l, ": in ")
		if i <= 0 || strings.HasPrefix(l, "[G]") {
			continue
		}
		out = append(out, l[:i])
		if len(out) == 8 {
			break
		}
	}
	return out
}

// splitTracePosition separates a traceback position "lib/menu.lua:12" into
// file and line; it returns an empty file for anything else.
func splitTracePosition(p string) (file string, line int) {
	i := strings.LastIndexByte(p, ':')
	if i <= 0 {
		return "", 0
	}
	line, err := strconv.Atoi(p[i+1:])
	if err != nil || line <= 0 {
		return "", 0
	}
	return p[:i], line
}

// errorf builds an *Error at a position.
func errorf(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Message: fmt.Sprintf(format, args...)}
}
