package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// The stage's view, as osbuild's arguments name it.
const (
	stageTree   = "/run/osbuild/tree"
	stageInputs = "/run/osbuild/inputs"
	stageMounts = "/run/osbuild/mounts"
	stageMeta   = "/run/osbuild/meta"
)

// StageRun serves stage.run: it runs one stage on a working tree and
// streams its output. A stage that exits non-zero is a result with Success
// false; errors mean the stage could not run, timed out or was canceled.
func (r *Runner) StageRun(ctx context.Context, p jsoncomm.StageRunParams, log func(jsoncomm.Log)) (jsoncomm.StageResult, error) {
	if err := checkStage(&p); err != nil {
		return jsoncomm.StageResult{}, err
	}
	release, err := r.trees.acquireAll(treeUses(&p))
	if err != nil {
		return jsoncomm.StageResult{}, fmt.Errorf("stage %s: %w", p.Type, err)
	}
	defer release()
	devs, err := r.openDevices(&p)
	if err != nil {
		return jsoncomm.StageResult{}, err
	}
	res, err := r.execute(ctx, &p, devs, log)
	// The setup process and every process of the stage are gone: nothing
	// holds the devices but their mounts' leftovers, if anything.
	if derr := devs.close(); derr != nil && err == nil {
		err = fmt.Errorf("stage %s: %w", p.Type, derr)
	}
	return res, err
}

// checkStage validates what the host sent before anything is touched.
func checkStage(p *jsoncomm.StageRunParams) error {
	bad := func(format string, args ...any) error {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "stage %q: "+format, append([]any{p.Type}, args...)...)
	}
	if err := validTreeName(p.Tree); err != nil {
		return err
	}
	if p.BuildRoot != "" {
		if err := validTreeName(p.BuildRoot); err != nil {
			return err
		}
	}
	switch {
	case p.BuildRoot != "" && p.BuildRoot == p.Tree:
		return bad("tree %q cannot be its own build root", p.Tree)
	case !sandbox.Component(p.Type):
		return bad("type is not a module name")
	case p.Kind != "stages" && p.Kind != "assemblers":
		return bad("kind %q is neither stages nor assemblers", p.Kind)
	case p.Executable != "" && !cleanAbs(p.Executable):
		return bad("executable %q is not absolute and clean", p.Executable)
	case p.TimeoutSeconds < 0 || math.IsNaN(p.TimeoutSeconds) || math.IsInf(p.TimeoutSeconds, 0):
		return bad("timeout %v", p.TimeoutSeconds)
	case !jsonObject(p.Options):
		return bad("options are not a JSON object")
	}
	for name, in := range p.Inputs {
		if err := checkInput(name, in); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

func checkInput(name string, in jsoncomm.StageInput) error {
	if !sandbox.Component(name) {
		return fmt.Errorf("input name %q", name)
	}
	if (in.Path == "") == (in.Tree == "") {
		return fmt.Errorf("input %s: needs exactly one of path and tree", name)
	}
	if in.Path != "" && !cleanAbs(in.Path) {
		return fmt.Errorf("input %s: path %q is not absolute and clean", name, in.Path)
	}
	if in.Tree != "" && validTreeName(in.Tree) != nil {
		return fmt.Errorf("input %s: tree %q", name, in.Tree)
	}
	for _, f := range in.Files {
		if !sandbox.LocalPath(f) || in.Tree == "" && !sandbox.Component(f) {
			return fmt.Errorf("input %s: file name %q", name, f)
		}
	}
	if !jsonObject(in.Data) {
		return fmt.Errorf("input %s: data is not a JSON object", name)
	}
	return nil
}

func cleanAbs(p string) bool { return filepath.IsAbs(p) && filepath.Clean(p) == p }

// jsonObject reports whether raw is absent, null or a JSON object.
func jsonObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return true
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil
}

// treeUses says which trees the stage uses and how: its tree for writing,
// the build root and tree inputs for reading.
func treeUses(p *jsoncomm.StageRunParams) map[string]bool {
	uses := map[string]bool{p.Tree: true}
	if p.BuildRoot != "" && p.BuildRoot != p.Tree {
		uses[p.BuildRoot] = false
	}
	for _, in := range p.Inputs {
		if in.Tree != "" && in.Tree != p.Tree {
			uses[in.Tree] = false
		}
	}
	return uses
}

// sortedInputs returns input names in order, so that mounts and the
// arguments file do not depend on map order.
func sortedInputs(inputs map[string]jsoncomm.StageInput) []string {
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
