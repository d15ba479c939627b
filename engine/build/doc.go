// Package build runs a validated manifest: it decides from the object store
// what is left to build (osbuild's depsolve: only what the exports need,
// each pipeline from its deepest cached stage), drives an Executor through
// the stages in order, commits checkpoints, and writes the exports.
//
// The Executor is where stages really run: the build VM (host/runner). It
// is started lazily, so a run whose exports are all in the store boots
// nothing. Trees built in this run stay in the executor as "floating"
// trees, named by their content ID, as osbuild keeps floating objects: they
// serve later pipelines as build roots and inputs, and exports are saved
// from them at the end.
package build
