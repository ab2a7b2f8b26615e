package flows

import (
	"context"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Watcher reloads the flows when a file under the flow directory changes.
//
// It polls file sizes and modification times rather than using inotify
// (fsnotify): polling works the same on every filesystem kefu meets —
// bind mounts, network volumes, and Kubernetes ConfigMaps, whose atomic
// symlink swap silently breaks inotify watches on the old files — needs no
// extra dependency, and costs a few stat calls every couple of seconds for
// a directory of flow files. Editors that save in several writes are
// handled because a reload only happens once the snapshot changed, and a
// half-written file that does not parse keeps the old flows running.
type Watcher struct {
	Dir      string
	Engine   *Engine
	Interval time.Duration
	Log      *zap.Logger

	mu       sync.Mutex
	snapshot map[string]fileStamp
}

type fileStamp struct {
	size    int64
	modTime time.Time
}

// NewWatcher watches dir and swaps reloaded flows into engine.
func NewWatcher(dir string, engine *Engine, interval time.Duration, log *zap.Logger) *Watcher {
	if log == nil {
		log = zap.NewNop()
	}
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	w := &Watcher{Dir: dir, Engine: engine, Interval: interval, Log: log}
	w.snapshot = w.scan()
	return w
}

// Run polls until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	tick := time.NewTicker(w.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			w.Check()
		}
	}
}

// Check looks for changes once and reloads when there are any. It reports
// whether the running flows were replaced; problems of an invalid edit are
// logged one per line as file:line: message and returned.
func (w *Watcher) Check() (reloaded bool, probs Problems) {
	w.mu.Lock()
	defer w.mu.Unlock()
	snap := w.scan()
	if sameSnapshot(snap, w.snapshot) {
		return false, nil
	}
	w.snapshot = snap
	set, probs := Lint(w.Dir)
	if set == nil {
		errs := probs.Errors()
		for _, p := range errs {
			w.Log.Error("flow file has an error; keeping the running flows", zap.String("problem", p.String()))
		}
		return false, probs
	}
	for _, p := range probs {
		w.Log.Warn("flow file warning", zap.String("problem", p.String()))
	}
	w.Engine.Swap(set)
	w.Log.Info("flows reloaded", zap.Int("flows", len(set.Flows)), zap.Int("files", len(set.Files)))
	return true, probs
}

func (w *Watcher) scan() map[string]fileStamp {
	files, _ := FlowFiles(w.Dir)
	out := make(map[string]fileStamp, len(files))
	for _, f := range files {
		if info, err := os.Stat(f); err == nil {
			out[f] = fileStamp{size: info.Size(), modTime: info.ModTime()}
		}
	}
	return out
}

func sameSnapshot(a, b map[string]fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.modTime.Equal(v.modTime) || w.size != v.size {
			return false
		}
	}
	return true
}
