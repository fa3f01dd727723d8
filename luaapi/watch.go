package luaapi

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is how long the watcher waits after the last change before it
// reloads: a save is a burst of events (truncate, write, write; or create
// temp, write, rename), and an editor that truncates first shows an empty
// file for a moment.
const debounce = 100 * time.Millisecond

// pollRoot is how often the watcher looks for the scripts folder after it
// was moved away or removed, until it is back.
const pollRoot = 250 * time.Millisecond

// Watch reloads the scripts whenever a *.lua file of the folder or of any
// subfolder (lib/ and the folders made later) is created, written, removed
// or renamed, until ctx ends. Editors' temp files and chmod are ignored; a
// burst of events gives one reload, and a reload that finds every file as
// it was is skipped. A set that fails to load is logged and the last good
// one keeps serving.
//
// When the folder itself is moved away or removed — a deploy that renames
// a new folder into its place (mv scripts.new scripts) — Watch logs a
// warning, looks for the folder every pollRoot until it is there again,
// then watches the new one and reloads.
//
// Watch returns nil when ctx ends, or an error when the folder cannot be
// watched at the start.
func (rt *Runtime) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	root := filepath.Clean(rt.opts.Dir)
	dirs := map[string]bool{}
	if err := watchTree(w, root, dirs); err != nil {
		return err
	}
	rt.log.Debug("watching the scripts", "dir", root, "folders", len(dirs))

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var poll *time.Ticker
	var pollC <-chan time.Time // nil (never ready) while the folder is watched
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	// rewatch watches the folder again if it is back; it reports whether
	// it is.
	rewatch := func() bool {
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			return false
		}
		if err := watchTree(w, root, dirs); err != nil {
			rt.log.Warn("the scripts folder is back but cannot be watched; trying again", "dir", root, "err", err)
			return false
		}
		rt.log.Warn("the scripts folder is back; watching it again and reloading", "dir", root, "folders", len(dirs))
		timer.Reset(debounce)
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Name == root && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				// The folder itself went away: what is still watched
				// belongs to the old one, wherever it is now.
				unwatch(w, dirs, root)
				timer.Stop()
				rt.log.Warn("the scripts folder was moved away or removed; the scripts loaded keep serving, and hot reload resumes when it is back",
					"dir", root)
				if !rewatch() && pollC == nil {
					poll = time.NewTicker(pollRoot)
					pollC = poll.C
				}
				continue
			}
			if pollC != nil {
				continue // events of the old folder, if any got through
			}
			if relevant(w, ev, dirs, rt) {
				timer.Reset(debounce)
			}
		case <-pollC:
			if rewatch() {
				poll.Stop()
				poll, pollC = nil, nil
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow means events were lost: reload to be sure.
			rt.log.Warn("watching the scripts", "err", err)
			timer.Reset(debounce)
		case <-timer.C:
			// Errors are logged by reload; the last good scripts keep serving.
			_ = rt.reload(false)
		}
	}
}

// relevant reports whether ev may have changed the scripts, adds watches
// for new folders and removes those of folders that left the tree.
func relevant(w *fsnotify.Watcher, ev fsnotify.Event, dirs map[string]bool, rt *Runtime) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Base(ev.Name)
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
			if strings.HasPrefix(name, ".") {
				return false
			}
			// fsnotify is not recursive: watch the new folder, and what
			// it already holds (a folder moved in, or made with mkdir -p).
			if err := watchTree(w, ev.Name, dirs); err != nil {
				rt.log.Warn("cannot watch a new folder", "dir", ev.Name, "err", err)
			}
			return true
		}
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		if dirs[ev.Name] {
			unwatch(w, dirs, ev.Name)
			return true
		}
	}
	return isScriptName(name)
}

// unwatch stops watching dir and every folder under it. A folder moved out
// of the tree keeps its watches (and its subfolders theirs) until they are
// removed: they would leak, and report changes outside the scripts folder
// under the names they had inside it. The watch of a folder that was
// deleted, or that fsnotify already dropped, is gone: Remove's error says
// so, and is of no interest.
func unwatch(w *fsnotify.Watcher, dirs map[string]bool, dir string) {
	for d := range dirs {
		if d == dir || strings.HasPrefix(d, dir+string(filepath.Separator)) {
			_ = w.Remove(d)
			delete(dirs, d)
		}
	}
}

// watchTree watches dir and every folder under it, except hidden ones.
func watchTree(w *fsnotify.Watcher, dir string, dirs map[string]bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir {
				return nil // vanished meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		if dirs[p] {
			return nil
		}
		if err := w.Add(p); err != nil {
			if p == dir {
				return err
			}
			return nil
		}
		dirs[p] = true
		return nil
	})
}
