package build

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// pipeline builds p into the floating working tree named p.ID, starting
// from its deepest committed stage.
func (b *builder) pipeline(ctx context.Context, p *manifest.Pipeline) error {
	pr := b.result.pipeline(p)
	if len(p.Stages) == 0 || b.contains(p.ID) {
		return nil
	}
	if err := b.ensureExecutor(ctx); err != nil {
		return err
	}
	buildRoot, err := b.buildRoot(ctx, p)
	if err != nil {
		return err
	}
	todo, base := b.resume(p)
	if err := b.exec.OpenTree(ctx, p.ID, base); err != nil {
		return fmt.Errorf("pipeline %s: open tree: %w", p.Name, err)
	}
	b.floating[p.ID] = false // open, but not complete until the last stage
	b.empty[p.ID] = base == ""
	for _, s := range todo {
		if err := b.stage(ctx, p, s, buildRoot, pr); err != nil {
			b.exec.CloseTree(context.WithoutCancel(ctx), p.ID)
			delete(b.floating, p.ID)
			return err
		}
	}
	b.floating[p.ID] = true
	return nil
}

// resume returns the stages left to run and the archive of the deepest
// committed stage to start from ("" for an empty tree).
func (b *builder) resume(p *manifest.Pipeline) ([]*manifest.Stage, string) {
	for i := len(p.Stages) - 1; i >= 0; i-- {
		if path, ok := b.stored(p.Stages[i].ID); ok {
			return p.Stages[i+1:], path
		}
	}
	return p.Stages, ""
}

// buildRoot makes sure p's build pipeline tree is open in the executor and
// returns its name, or "" when p has no build pipeline.
func (b *builder) buildRoot(ctx context.Context, p *manifest.Pipeline) (string, error) {
	if p.Build == nil || len(p.Build.Stages) == 0 {
		return "", nil
	}
	if err := b.ensureTree(ctx, p.Build.ID); err != nil {
		return "", fmt.Errorf("pipeline %s: build root %s: %w", p.Name, p.Build.Name, err)
	}
	return p.Build.ID, nil
}

// ensureTree opens committed object id in the executor unless it is
// already floating there.
func (b *builder) ensureTree(ctx context.Context, id string) error {
	if b.floating[id] {
		return nil
	}
	path, ok := b.stored(id)
	if !ok {
		return fmt.Errorf("tree %s is neither built nor in the store", id)
	}
	if err := b.exec.OpenTree(ctx, id, path); err != nil {
		return err
	}
	b.floating[id] = true
	return nil
}

func (b *builder) ensureExecutor(ctx context.Context) error {
	if b.exec != nil {
		return nil
	}
	e, err := b.cfg.NewExecutor(ctx)
	if err != nil {
		return err
	}
	b.exec = e
	return nil
}

// stage runs one stage and commits it when it is a checkpoint.
func (b *builder) stage(ctx context.Context, p *manifest.Pipeline, s *manifest.Stage, buildRoot string, pr *PipelineResult) error {
	run, err := b.stageRun(ctx, p, s, buildRoot)
	if err != nil {
		return err
	}
	b.cfg.Monitor.BeginStage(stageIndex(p, s), len(p.Stages), s)
	sr := &StageLog{ID: s.ID, Type: s.Type}
	var tail outputTail
	out := func(stream, text string) {
		tail.add(text)
		b.cfg.Monitor.StageOutput(s, stream, text)
	}
	if err := b.prepare(ctx, p, run, out); err != nil {
		return fmt.Errorf("stage %s (%s): %w", s.Type, short(s.ID), err)
	}
	res, err := b.exec.RunStage(ctx, run, out)
	sr.Output = tail.String()
	if err != nil {
		return fmt.Errorf("stage %s (%s): %w", s.Type, short(s.ID), err)
	}
	sr.Success, sr.Metadata = res.Success, res.Metadata
	pr.Stages = append(pr.Stages, sr)
	b.cfg.Monitor.EndStage(s, res)
	if !res.Success {
		return &StageError{Pipeline: p.Name, Type: s.Type, ID: s.ID, ExitCode: res.ExitCode, Output: sr.Output}
	}
	if len(res.Metadata) > 0 && string(res.Metadata) != "{}" && string(res.Metadata) != "null" {
		b.result.addMetadata(p.Name, s.Type, res.Metadata)
	}
	if b.cfg.Checkpoints[s.ID] {
		return b.commit(ctx, p.ID, s.ID, res.Metadata)
	}
	return nil
}

// commit saves working tree name as committed object id.
func (b *builder) commit(ctx context.Context, name, id string, meta json.RawMessage) error {
	md := map[string]json.RawMessage{}
	if len(meta) > 0 {
		md[id] = meta
	}
	err := b.cfg.Store.Commit(id, func(w io.Writer) error {
		return b.exec.SaveTree(ctx, name, w)
	}, md)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", short(id), err)
	}
	return nil
}

// prepare runs the host's part of a stage (see Config.Prepare): adds the
// inputs it made and reopens an empty working tree from its archive.
func (b *builder) prepare(ctx context.Context, p *manifest.Pipeline, run *StageRun, out func(stream, text string)) error {
	empty := b.empty[p.ID]
	b.empty[p.ID] = false
	prep := b.cfg.Prepare[run.Type]
	if prep == nil {
		return nil
	}
	if err := os.MkdirAll(b.cfg.PrepareDir, 0o700); err != nil {
		return err
	}
	res, err := prep(ctx, run.Inputs, empty, b.cfg.PrepareDir)
	if err != nil {
		return fmt.Errorf("prepare on the host: %w", err)
	}
	for name, in := range res.Inputs {
		if _, dup := run.Inputs[name]; dup {
			return fmt.Errorf("prepare on the host: input %q exists already", name)
		}
		run.Inputs[name] = in
	}
	if res.Note != "" {
		out("stdout", "host: "+res.Note+"\n")
	}
	if res.Archive == "" {
		return nil
	}
	defer os.Remove(res.Archive)
	if !empty {
		return fmt.Errorf("prepare on the host: a tree archive for a tree that is not empty")
	}
	if err := b.exec.CloseTree(ctx, p.ID); err != nil {
		return err
	}
	return b.exec.OpenTree(ctx, p.ID, res.Archive)
}

// stageRun resolves s's module and inputs into what the executor runs.
func (b *builder) stageRun(ctx context.Context, p *manifest.Pipeline, s *manifest.Stage, buildRoot string) (*StageRun, error) {
	k := kind(s)
	exe, err := b.cfg.Resolve(k, s.Type)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", s.Type, err)
	}
	run := &StageRun{
		Tree: p.ID, BuildRoot: buildRoot, Type: s.Type, Kind: k, ID: s.ID,
		Executable: exe, Options: s.Options, SourceEpoch: p.SourceEpoch,
		Timeout: b.cfg.StageTimeout, Inputs: map[string]StageInput{},
	}
	if len(run.Options) == 0 {
		run.Options = json.RawMessage("{}")
	}
	for name, in := range s.Inputs {
		si, err := b.input(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("stage %s: input %q: %w", s.Type, name, err)
		}
		run.Inputs[name] = si
	}
	for _, name := range s.DeviceNames() {
		d := s.Devices[name]
		run.Devices = append(run.Devices, StageDevice{Name: name, Type: d.Type, Parent: d.Parent, Options: d.Options})
	}
	for _, m := range s.Mounts {
		run.Mounts = append(run.Mounts, StageMount{
			Name: m.Name, Type: m.Type, Source: m.Source, Target: m.Target, Partition: m.Partition, Options: m.Options,
		})
	}
	return run, nil
}

// input maps a manifest input to what the executor exposes.
func (b *builder) input(ctx context.Context, in *manifest.Input) (StageInput, error) {
	si := StageInput{Type: in.Type, Data: json.RawMessage("{}")}
	switch in.Origin {
	case "org.osbuild.source":
		for _, r := range in.References {
			si.Files = append(si.Files, r.ID)
		}
		si.Dir = b.cfg.SourcesDir
		si.Data = filesData(in.References)
		return si, nil
	case "org.osbuild.pipeline":
		if in.Type != "org.osbuild.tree" && in.Type != "org.osbuild.files" {
			return si, fmt.Errorf("input type %s from a pipeline is not supported; use org.osbuild.tree or org.osbuild.files", in.Type)
		}
		if len(in.References) != 1 {
			return si, fmt.Errorf("%s takes exactly one pipeline reference, got %d", in.Type, len(in.References))
		}
		ref := in.References[0]
		if err := b.ensureTree(ctx, ref.ID); err != nil {
			return si, err
		}
		si.Tree = ref.ID
		if in.Type == "org.osbuild.files" {
			return pipelineFile(si, ref)
		}
		return si, nil
	}
	return si, fmt.Errorf("unknown input origin %q", in.Origin)
}

// pipelineFile is an org.osbuild.files input of one file of a pipeline's
// tree, as osbuild's files input maps a pipeline reference: the stage
// sees the file at the same relative path in the input directory, and
// the reply names it by that path with the reference's metadata.
func pipelineFile(si StageInput, ref manifest.Reference) (StageInput, error) {
	var o struct {
		File     *string         `json:"file"`
		Metadata json.RawMessage `json:"metadata"`
	}
	if err := json.Unmarshal(ref.Options, &o); err != nil || o.File == nil {
		return si, fmt.Errorf("org.osbuild.files from a pipeline needs the reference's \"file\" option (a path in the pipeline's tree)")
	}
	rel := strings.TrimLeft(*o.File, "/")
	if rel == "" || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
		return si, fmt.Errorf("file %q: give a clean path inside the pipeline's tree", *o.File)
	}
	si.Files = []string{rel}
	key, _ := json.Marshal(rel)
	si.Data = json.RawMessage(`{"files":{` + string(key) + `:` + string(refMetadata(ref.Options)) + `}}`)
	return si, nil
}

// filesData is the files input's reply, {"files": {checksum: metadata}},
// with the references in manifest order, as osbuild's (a Python dict)
// keeps them: stages that install packages go by that order.
func filesData(refs []manifest.Reference) json.RawMessage {
	buf := []byte(`{"files":{`)
	for i, r := range refs {
		if i > 0 {
			buf = append(buf, ',')
		}
		key, _ := json.Marshal(r.ID)
		buf = append(append(append(buf, key...), ':'), refMetadata(r.Options)...)
	}
	return append(buf, "}}"...)
}

// refMetadata is what osbuild's files input hands on for a reference: its
// "metadata" option, or {}.
func refMetadata(opts json.RawMessage) json.RawMessage {
	var o struct {
		Metadata json.RawMessage `json:"metadata"`
	}
	if json.Unmarshal(opts, &o) == nil && len(o.Metadata) > 0 {
		return o.Metadata
	}
	return json.RawMessage("{}")
}

func stageIndex(p *manifest.Pipeline, s *manifest.Stage) int {
	for i, q := range p.Stages {
		if q == s {
			return i + 1
		}
	}
	return 0
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// MaxStageOutput bounds the output kept per stage for --json and error
// messages: a stage, which the host does not trust, may print without
// end; the monitor still sees every line as it comes.
const MaxStageOutput = 1 << 20

// outputTail keeps the last MaxStageOutput bytes of a stage's output.
type outputTail struct {
	buf     []byte
	dropped bool
}

func (t *outputTail) add(text string) {
	t.buf = append(t.buf, text...)
	if len(t.buf) > 2*MaxStageOutput {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-MaxStageOutput:]...)
		t.dropped = true
	}
}

func (t *outputTail) String() string {
	b := t.buf
	if len(b) > MaxStageOutput {
		b, t.dropped = b[len(b)-MaxStageOutput:], true
	}
	if t.dropped {
		return "[earlier output dropped]\n" + string(b)
	}
	return string(b)
}
