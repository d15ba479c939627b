package monitor

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// LogMonitor writes human progress: one line per pipeline and stage with
// its position and id, the stage output indented as it streams, and how
// long each step took.
type LogMonitor struct {
	mu          sync.Mutex
	w           *stickyWriter
	now         Clock
	runStart    time.Time
	stepStart   time.Time
	stageStart  time.Time
	stage       Stage
	midLine     bool // output stopped mid-line
	lastPercent map[string]int64
}

// NewLogMonitor writes to w, timing steps with now.
func NewLogMonitor(w io.Writer, now Clock) *LogMonitor {
	return &LogMonitor{w: &stickyWriter{w: w}, now: now, lastPercent: map[string]int64{}}
}

// Err is the first error writing the log, or nil.
func (m *LogMonitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.w.err
}

// printf writes a line, first ending any half-written output line.
func (m *LogMonitor) printf(format string, args ...any) {
	if m.midLine {
		io.WriteString(m.w, "\n")
		m.midLine = false
	}
	fmt.Fprintf(m.w, format+"\n", args...)
}

// since formats the time elapsed since t.
func (m *LogMonitor) since(t time.Time) string {
	return fmt.Sprintf("%.2fs", m.now().Sub(t).Seconds())
}

func (m *LogMonitor) RunStarted(manifest string, steps int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runStart = m.now()
	m.printf("starting %s (%d steps)", manifest, steps)
}

func (m *LogMonitor) SourceStarted(typ string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stepStart = m.now()
	m.printf("source %s", typ)
}

// Download prints each item when it starts, at every tenth of its size
// and when it completes.
func (m *LogMonitor) Download(d Download) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tenth := int64(-1)
	if d.Total > 0 {
		tenth = d.Done * 10 / d.Total
	}
	last, seen := m.lastPercent[d.Checksum]
	if seen && tenth == last {
		return
	}
	m.lastPercent[d.Checksum] = tenth
	m.printf("  %s %s / %s", d.URL, bytesText(d.Done), bytesText(d.Total))
}

// bytesText renders a byte count in binary units; -1 is "?".
func bytesText(n int64) string {
	if n < 0 {
		return "?"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

func (m *LogMonitor) SourceFinished(r SourceResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cached, failed := 0, 0
	for _, it := range r.Items {
		if it.Cached {
			cached++
		}
		if it.Error != "" {
			failed++
			m.printf("  %s: %s", it.Checksum, it.Error)
		}
	}
	m.printf("source %s: %d items, %d cached, %d failed (%s)", r.Type, len(r.Items), cached, failed, m.since(m.stepStart))
}

func (m *LogMonitor) PipelineStarted(p Pipeline) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stepStart = m.now()
	m.printf("pipeline %d/%d %s: %s", p.Index, p.Count, p.Name, p.ID)
	build := p.Build
	if build == "" {
		build = "<agent root>"
	}
	m.printf("  build root: %s", build)
	if p.SourceEpoch != nil {
		m.printf("  source-epoch: %s [%d]", time.Unix(*p.SourceEpoch, 0).UTC().Format(time.RFC3339), *p.SourceEpoch)
	}
}

func (m *LogMonitor) StageStarted(s Stage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stage, m.stageStart = s, m.now()
	m.printf("  stage %d/%d %s (id %s)", s.Index, s.Count, s.Type, shortID(s.ID))
}

// shortID abbreviates an id for humans.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

// Output indents every line of the stage's output by four spaces.
func (m *LogMonitor) Output(text, origin string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for text != "" {
		line, rest, nl := strings.Cut(text, "\n")
		if !m.midLine {
			io.WriteString(m.w, "    ")
		}
		io.WriteString(m.w, line)
		if nl {
			io.WriteString(m.w, "\n")
		}
		m.midLine = !nl
		text = rest
	}
}

func (m *LogMonitor) StageFinished(r StageResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	status := "done"
	if !r.Success {
		status = "FAILED"
	}
	m.printf("  stage %d/%d %s %s (%s)", m.stage.Index, m.stage.Count, r.Type, status, m.since(m.stageStart))
}

func (m *LogMonitor) PipelineFinished(p Pipeline) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.printf("pipeline %s finished (%s)", p.Name, m.since(m.stepStart))
}

func (m *LogMonitor) RunFinished(manifest string, success bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if success {
		m.printf("manifest %s finished successfully (%s)", manifest, m.since(m.runStart))
	} else {
		m.printf("manifest %s failed (%s)", manifest, m.since(m.runStart))
	}
}
