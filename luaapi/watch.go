package luaapi

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
// one keeps serving. Reloads run apart from the watcher: a newer change
// supersedes a reload still running (see Runtime.reload).
//
// The folder may be a symbolic link, or be under one (the deploy layout
// scripts -> releases/N): Watch watches the folder the path leads to, and
// the folders that hold the links on the way, since fsnotify does not
// follow links. When a link changes (ln -sfn releases/N+1 scripts), Watch
// watches the new target and reloads. The log names the folder watched.
//
// When the folder itself is moved away or removed — a deploy that renames
// a new folder into its place (mv scripts.new scripts) — Watch logs a
// warning, looks for the folder every pollRoot until it is there again,
// then watches the new one and reloads.
//
// Watch returns nil when ctx ends, or an error when the folder cannot be
// watched at the start. It returns once the reloads it started are over.
func (rt *Runtime) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var reloads sync.WaitGroup
	defer reloads.Wait()
	defer cancel()
	defer w.Close()

	fw := &folderWatch{w: w, dir: filepath.Clean(rt.opts.Dir), dirs: map[string]bool{}, linkDirs: map[string]bool{}}
	found, _, err := fw.follow()
	if err == nil && !found {
		err = fmt.Errorf("%s is not a folder", fw.dir)
	}
	if err != nil {
		return fmt.Errorf("watching the scripts folder: %w", err)
	}
	args := []any{"dir", fw.dir, "path", fw.root, "folders", len(fw.dirs)}
	if len(fw.links) > 0 {
		args = append(args, "links", strings.Join(slices.Sorted(maps.Keys(fw.links)), ", "))
	}
	rt.log.Info("watching the scripts", args...)
	if fw.linkErr != nil {
		rt.log.Warn("a folder holding a link on the scripts path cannot be watched: a change of the link will not be noticed",
			"dir", fw.dir, "err", fw.linkErr)
	}

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var poll *time.Ticker
	var pollC <-chan time.Time // nil (never ready) while the folder is watched
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	// check looks where the folder's path leads now and watches that; it
	// logs what changed, and polls while the folder is gone.
	lost := false
	lose := func() {
		if !lost {
			lost = true
			fw.unwatchTree()
			fw.root = ""
			timer.Stop()
			rt.log.Warn("the scripts folder was moved away or removed; the scripts loaded keep serving, and hot reload resumes when it is back",
				"dir", fw.dir)
		}
	}
	check := func() {
		found, moved, err := fw.follow()
		switch {
		case err != nil:
			rt.log.Warn("the scripts folder is back but cannot be watched; trying again", "dir", fw.dir, "err", err)
		case !found:
			lose()
		case lost:
			lost = false
			rt.log.Warn("the scripts folder is back; watching it again and reloading", "dir", fw.dir, "path", fw.root, "folders", len(fw.dirs))
			timer.Reset(debounce)
		case moved:
			rt.log.Info("the scripts folder now leads to another folder; watching it and reloading",
				"dir", fw.dir, "path", fw.root, "folders", len(fw.dirs))
			timer.Reset(debounce)
		}
		switch {
		case (lost || err != nil) && pollC == nil:
			poll = time.NewTicker(pollRoot)
			pollC = poll.C
		case !lost && err == nil && pollC != nil:
			poll.Stop()
			poll, pollC = nil, nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			switch {
			case fw.links[ev.Name]:
				// A link on the way to the folder changed.
				if ev.Op != fsnotify.Chmod {
					check()
				}
			case ev.Name == fw.root && ev.Has(fsnotify.Remove|fsnotify.Rename):
				// The folder itself went away: what is still watched
				// belongs to the old one, wherever it is now.
				lose()
				check()
			case lost || !fw.dirs[filepath.Dir(ev.Name)]:
				// Events of the old folder, if any got through, and of
				// the other files next to a link.
			case relevant(w, ev, fw.dirs, rt):
				timer.Reset(debounce)
			}
		case <-pollC:
			check()
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow means events were lost: look again, and reload
			// to be sure.
			rt.log.Warn("watching the scripts", "err", err)
			check()
			timer.Reset(debounce)
		case <-timer.C:
			// Errors are logged by reload; the last good scripts keep
			// serving. The reload runs apart, so that a newer change is
			// seen, and supersedes it, while it runs.
			reloads.Add(1)
			go func() {
				defer reloads.Done()
				_ = rt.reload(ctx, false)
			}()
		}
	}
}

// folderWatch is what Watch watches: the folder the scripts path leads to,
// with its subfolders, and the folders holding the links on that path.
type folderWatch struct {
	w        *fsnotify.Watcher
	dir      string          // the scripts folder, as configured
	root     string          // its real path, watched; "" while it is gone
	rootInfo fs.FileInfo     // root when it was watched: a folder made again at the same path is another one
	dirs     map[string]bool // the folders watched under root
	links    map[string]bool // the links on the way from dir to root
	linkDirs map[string]bool // the folders that hold them, watched for their changes
	linkErr  error           // why one of those could not be watched, if so
}

// follow resolves the scripts path again, watches the folder it leads to
// and the links on the way. found is false when the path leads nowhere (or
// not to a folder); moved is true when it leads to another folder than
// the one watched until now.
func (fw *folderWatch) follow() (found, moved bool, err error) {
	fw.watchLinks()
	real, err := realPath(fw.dir)
	if err != nil {
		return false, false, nil
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.IsDir() {
		return false, false, nil
	}
	if fw.root == real && os.SameFile(fi, fw.rootInfo) {
		return true, false, nil
	}
	fw.unwatchTree()
	fw.root, fw.rootInfo = "", nil
	if err := watchTree(fw.w, real, fw.dirs); err != nil {
		return false, false, err
	}
	fw.root, fw.rootInfo = real, fi
	return true, true, nil
}

// unwatchTree stops watching the folder and its subfolders.
func (fw *folderWatch) unwatchTree() {
	for d := range fw.dirs {
		if !fw.linkDirs[d] {
			_ = fw.w.Remove(d)
		}
		delete(fw.dirs, d)
	}
}

// watchLinks watches the folders holding the links of the scripts path,
// and no others.
func (fw *folderWatch) watchLinks() {
	fw.links = map[string]bool{}
	want := map[string]bool{}
	for _, l := range linksOn(fw.dir) {
		fw.links[l] = true
		want[filepath.Dir(l)] = true
	}
	for d := range fw.linkDirs {
		if !want[d] {
			if !fw.dirs[d] {
				_ = fw.w.Remove(d)
			}
			delete(fw.linkDirs, d)
		}
	}
	fw.linkErr = nil
	for d := range want {
		if fw.linkDirs[d] {
			continue
		}
		if err := fw.w.Add(d); err != nil {
			fw.linkErr = err
			continue
		}
		fw.linkDirs[d] = true
	}
}

// linksOn lists the symbolic links that the path p goes through: the links
// among its components, and those in their targets, recursively. Each is
// named by a path free of links up to it, so that its folder can be
// watched.
func linksOn(p string) []string {
	var links []string
	var walk func(p string, hops int)
	walk = func(p string, hops int) {
		if hops > 40 { // a loop of links; EvalSymlinks reports it
			return
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return
		}
		vol := filepath.VolumeName(abs)
		cur := vol + string(filepath.Separator)
		parts := strings.Split(strings.TrimPrefix(abs[len(vol):], string(filepath.Separator)), string(filepath.Separator))
		for i, part := range parts {
			if part == "" {
				continue
			}
			next := filepath.Join(cur, part)
			fi, err := os.Lstat(next)
			if err != nil {
				return
			}
			if fi.Mode()&fs.ModeSymlink == 0 {
				cur = next
				continue
			}
			links = append(links, next)
			target, err := os.Readlink(next)
			if err != nil {
				return
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			walk(filepath.Join(append([]string{target}, parts[i+1:]...)...), hops+1)
			return
		}
	}
	walk(p, 0)
	return links
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
	return IsScriptName(name)
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
