package monitor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// maxOutput caps a stage's output inside a result record, as osbuild's
// JSONSeqMonitor does (consumers with 64 KiB line buffers choked).
const maxOutput = 31000

// JSONSeqMonitor writes osbuild's JSON sequence (RFC 7464): each record is
// RS (0x1E), a JSON object, LF. Records carry osbuild's fields: message,
// result, context (origin, pipeline name/id, stage name/id and a context
// id; a context already sent is repeated as its id only), progress
// (pipelines/sources done of total, with the current pipeline's stages as
// sub-progress), options, timestamp (seconds), duration (seconds),
// metadata. Empty fields are left out.
type JSONSeqMonitor struct {
	mu       sync.Mutex
	w        *stickyWriter
	now      Clock
	ctx      context
	sent     map[string]bool
	progress progress
	options  json.RawMessage
	started  *time.Time
}

// NewJSONSeqMonitor writes to w, stamping records with now.
func NewJSONSeqMonitor(w io.Writer, now Clock) *JSONSeqMonitor {
	return &JSONSeqMonitor{w: &stickyWriter{w: w}, now: now, sent: map[string]bool{},
		progress: progress{Name: "pipelines/sources"}}
}

// Err is the first error writing a record, or nil.
func (m *JSONSeqMonitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.w.err
}

// context is osbuild's monitor.Context.
type context struct {
	origin, pipelineName, pipelineID, stageName, stageID *string
}

// progress is osbuild's monitor.Progress.
type progress struct {
	Name  string    `json:"name"`
	Total int       `json:"total"`
	Done  int       `json:"done"`
	Sub   *progress `json:"progress,omitempty"`
}

// record is one log entry, fields in osbuild's order.
type record struct {
	Message   string          `json:"message,omitempty"`
	Result    any             `json:"result,omitempty"`
	Context   any             `json:"context,omitempty"`
	Progress  *progress       `json:"progress,omitempty"`
	Options   json.RawMessage `json:"options,omitempty"`
	Timestamp float64         `json:"timestamp"`
	Duration  *float64        `json:"duration,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

func strp(s string) *string { return &s }

// id is the sha256 of Python's json.dumps(sort_keys=True) of the context
// with nulls for unset fields, as osbuild computes it.
func (c context) id() string {
	doc := fmt.Sprintf(`{"origin": %s, "pipeline": {"id": %s, "name": %s, "stage": {"id": %s, "name": %s}}}`,
		pyString(c.origin), pyString(c.pipelineID), pyString(c.pipelineName), pyString(c.stageID), pyString(c.stageName))
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// full renders the context with empty fields left out, as omitempty does.
func (c context) full(id string) map[string]any {
	stage := map[string]any{}
	put(stage, "name", c.stageName)
	put(stage, "id", c.stageID)
	pipeline := map[string]any{}
	put(pipeline, "name", c.pipelineName)
	put(pipeline, "id", c.pipelineID)
	pipeline["stage"] = stage
	out := map[string]any{"pipeline": pipeline, "id": id}
	put(out, "origin", c.origin)
	return out
}

func put(m map[string]any, k string, v *string) {
	if v != nil && *v != "" {
		m[k] = *v
	}
}

// contextFor returns the context with origin, in full the first time.
func (m *JSONSeqMonitor) contextFor(origin string) any {
	c := m.ctx
	if origin != "" {
		c.origin = strp(origin)
	}
	id := c.id()
	if m.sent[id] {
		return map[string]string{"id": id}
	}
	m.sent[id] = true
	return c.full(id)
}

// emit writes one record; the caller holds mu.
func (m *JSONSeqMonitor) emit(r record) {
	p := m.progress
	if p.Sub != nil {
		sub := *p.Sub
		p.Sub = &sub
	}
	r.Progress = &p
	r.Timestamp = float64(m.now().UnixMicro()) / 1e6
	data, err := json.Marshal(r)
	if err != nil { // only unmarshalable options/metadata; keep the stream going
		data, _ = json.Marshal(record{Message: "monitor: " + err.Error(), Timestamp: r.Timestamp})
	}
	m.w.Write(append(append([]byte{0x1e}, data...), '\n'))
}

// log is osbuild's JSONSeqMonitor.log.
func (m *JSONSeqMonitor) log(msg, origin string) {
	m.emit(record{Message: msg, Context: m.contextFor(origin)})
}

func (m *JSONSeqMonitor) RunStarted(manifest string, steps int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctx.origin = strp("org.osbuild")
	m.progress.Total = steps
	m.log("starting "+manifest, "osbuild.main_cli")
}

func (m *JSONSeqMonitor) SourceStarted(typ string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctx.pipelineName, m.ctx.pipelineID = strp("source "+typ), nil
	m.log("Starting pipeline source "+typ, "osbuild.monitor")
}

// Download reports progress as a log record whose progress nests the
// item's bytes (name "download <checksum>", total -1 when unknown).
func (m *JSONSeqMonitor) Download(d Download) {
	m.mu.Lock()
	defer m.mu.Unlock()
	saved := m.progress.Sub
	m.progress.Sub = &progress{Name: "download " + d.Checksum, Total: int(d.Total), Done: int(d.Done)}
	m.log("Downloading "+d.URL, "osbuild.sources")
	m.progress.Sub = saved
}

func (m *JSONSeqMonitor) SourceFinished(r SourceResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.finishModule("source "+r.Type, sourceResultDoc(r), nil)
	m.progress.incr()
	m.log("Finished pipeline "+r.Type, "osbuild.monitor")
}

func (m *JSONSeqMonitor) PipelineStarted(p Pipeline) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctx.pipelineName, m.ctx.pipelineID = strp(p.Name), strp(p.ID)
	if p.Stages > 0 {
		m.progress.Sub = &progress{Name: "pipeline: " + p.Name, Total: p.Stages}
	}
	m.log("Starting pipeline "+p.Name, "osbuild.monitor")
}

func (m *JSONSeqMonitor) StageStarted(s Stage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctx.stageName, m.ctx.stageID = strp(s.Type), strp(s.ID)
	m.options = s.Options
	if string(s.Options) == "{}" || string(s.Options) == "null" {
		m.options = nil
	}
	m.log("Starting module "+s.Type, "osbuild.monitor")
	t := m.now()
	m.started = &t
}

func (m *JSONSeqMonitor) Output(text, origin string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log(text, origin)
}

func (m *JSONSeqMonitor) StageFinished(r StageResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.progress.Sub != nil {
		m.progress.Sub.Done++
	}
	out := r.Output
	if len(out) > maxOutput {
		removed := len(out) - maxOutput
		out = fmt.Sprintf("[...%d bytes hidden...]\n%s", removed, out[removed:])
	}
	doc := map[string]any{"name": r.Type, "id": r.ID, "success": r.Success}
	if out != "" {
		doc["output"] = out
	}
	if len(r.Error) > 0 && string(r.Error) != "null" {
		doc["error"] = r.Error
	}
	m.finishModule(r.Type, doc, r.Metadata)
}

// finishModule writes the "Finished module" record of a stage or source.
func (m *JSONSeqMonitor) finishModule(name string, result any, metadata json.RawMessage) {
	rec := record{Message: "Finished module " + name, Result: result,
		Context: m.contextFor("osbuild.monitor"), Options: m.options}
	if m.started != nil {
		d := m.now().Sub(*m.started).Seconds()
		rec.Duration = &d
	}
	if string(metadata) != "{}" && string(metadata) != "null" {
		rec.Metadata = metadata
	}
	m.emit(rec)
}

func (p *progress) incr() {
	p.Done++
	p.Sub = nil
}

func (m *JSONSeqMonitor) PipelineFinished(p Pipeline) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.progress.incr()
	m.log("Finished pipeline "+p.Name, "osbuild.monitor")
}

func (m *JSONSeqMonitor) RunFinished(manifest string, success bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if success {
		m.log("manifest "+manifest+" finished successfully\n", "osbuild.main_cli")
	} else {
		m.log("manifest "+manifest+" failed\n", "osbuild.main_cli")
	}
}

// sourceResultDoc is osbuild's SourceResults.as_dict.
func sourceResultDoc(r SourceResult) map[string]any {
	items := make([]map[string]any, 0, len(r.Items))
	output := "source " + r.Type + " finished successfully"
	for _, it := range r.Items {
		meta := map[string]any{"checksum": it.Checksum}
		if it.Error == "" {
			meta["cached"] = it.Cached
		} else {
			output = "source " + r.Type + " finished unsuccessfully: " + it.Error
		}
		items = append(items, map[string]any{"success": it.Error == "", "metadata": meta, "error": it.Error})
	}
	return map[string]any{"name": "source " + r.Type, "source_type": r.Type,
		"success": r.Success(), "output": output, "results": items}
}
