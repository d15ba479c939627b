package runner

import (
	"bytes"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// arguments is osbuild's arguments document (osbuild/pipeline.py
// Stage.run and prepare_arguments), plus paths.meta.
type arguments struct {
	Tree    string                   `json:"tree"`
	Paths   map[string]string        `json:"paths"`
	Devices map[string]any           `json:"devices"`
	Inputs  map[string]argumentInput `json:"inputs"`
	Mounts  map[string]any           `json:"mounts"`
	Options json.RawMessage          `json:"options"`
	Meta    argumentMeta             `json:"meta"`
}

type argumentInput struct {
	Path string          `json:"path"`
	Data json.RawMessage `json:"data"`
}

type argumentMeta struct {
	ID          string `json:"id"`
	SourceEpoch *int64 `json:"source-epoch,omitempty"`
}

// callDirs are the directories of a call directory, made when its setup
// process starts (spawn); "ahead" is where the process builds what needs
// no spec (sandbox.Main).
var callDirs = []string{"api", "root", "staging", "ahead"}

// prepare fills the call directory and returns the sandbox.Spec as JSON.
func (r *Runner) prepare(call string, p *jsoncomm.StageRunParams, devs *stageDevices) ([]byte, error) {
	args, err := json.Marshal(buildArguments(p, devs))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(call, "api/arguments"), args, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(call, "meta"), nil, 0o644); err != nil {
		return nil, err
	}
	spec := r.spec(call, p)
	if devs != nil {
		spec.Nodes, spec.Mounts = devs.nodes, devs.mounts
	}
	return json.Marshal(spec)
}

func buildArguments(p *jsoncomm.StageRunParams, devs *stageDevices) *arguments {
	a := &arguments{
		Tree: stageTree,
		Paths: map[string]string{
			"devices": "/dev", "inputs": stageInputs, "mounts": stageMounts, "meta": stageMeta,
		},
		Devices: map[string]any{},
		Inputs:  map[string]argumentInput{},
		Mounts:  map[string]any{},
		Options: objectOrEmpty(p.Options),
		Meta:    argumentMeta{ID: p.ID, SourceEpoch: p.SourceEpoch},
	}
	for name, in := range p.Inputs {
		a.Inputs[name] = argumentInput{Path: path.Join(stageInputs, name), Data: objectOrEmpty(in.Data)}
	}
	if devs != nil {
		a.Devices, a.Mounts = devs.devArgs, devs.mountArgs
	}
	return a
}

func objectOrEmpty(raw json.RawMessage) json.RawMessage {
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

// spec resolves every host-side path of the stage's view.
func (r *Runner) spec(call string, p *jsoncomm.StageRunParams) *sandbox.Spec {
	s := &sandbox.Spec{
		Mountpoint: filepath.Join(call, "root"),
		Staging:    filepath.Join(call, "staging"),
		API:        filepath.Join(call, "api"),
		Meta:       filepath.Join(call, "meta"),
		Tree:       r.treeDir(p.Tree),
		Executable: p.Executable,
		Bin:        sandbox.BinDir + p.Type,
		Env:        stageEnv(p.SourceEpoch),
	}
	if p.BuildRoot != "" {
		s.Root = r.treeDir(p.BuildRoot)
	}
	if p.Executable == "" {
		s.Executable, s.InProcess = r.cfg.Self, true
	}
	if p.Kind == "assemblers" {
		s.Bin = sandbox.BinDir + "assemblers/" + p.Type
	}
	for _, name := range sortedInputs(p.Inputs) {
		in := p.Inputs[name]
		src := in.Path
		if in.Tree != "" {
			src = r.treeDir(in.Tree)
		}
		s.Inputs = append(s.Inputs, sandbox.Input{Name: name, Source: src, Files: in.Files})
	}
	return s
}

// stageEnv is the stage's whole environment: nothing of the agent's.
func stageEnv(epoch *int64) []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	if epoch != nil {
		env = append(env, "SOURCE_DATE_EPOCH="+strconv.FormatInt(*epoch, 10))
	}
	return env
}
