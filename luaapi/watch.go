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

// Watch reloads the scripts whenever a *.lua file of the folder or of any
// subfolder (lib/ and the folders made later) is created, written, removed
// or renamed, until ctx ends. Editors' temp files and chmod are ignored; a
// burst of events gives one reload, and a reload that finds every file as
// it was is skipped. A set that fails to load is logged and the last good
// one keeps serving. Watch returns nil when ctx ends, or an error when the
// folder cannot be watched.
func (rt *Runtime) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	dirs := map[string]bool{}
	if err := watchTree(w, rt.opts.Dir, dirs); err != nil {
		return err
	}
	rt.log.Debug("watching the scripts", "dir", rt.opts.Dir, "folders", len(dirs))

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if relevant(w, ev, dirs, rt) {
				timer.Reset(debounce)
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

// relevant reports whether ev may have changed the scripts, and adds
// watches for new folders.
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
			for d := range dirs {
				if d == ev.Name || strings.HasPrefix(d, ev.Name+string(filepath.Separator)) {
					delete(dirs, d)
				}
			}
			return true
		}
	}
	return isScriptName(name)
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
