package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// services holds what the agent's own methods answer from.
type services struct {
	info     jsoncomm.Info
	files    *fileService
	shutdown func()
}

// register adds ping, info, file.read, file.write and shutdown to srv.
func (s *services) register(srv *jsoncomm.Server) {
	srv.Handle(jsoncomm.MethodPing, safe(s.ping))
	srv.Handle(jsoncomm.MethodInfo, safe(s.infoCall))
	srv.Handle(jsoncomm.MethodReadFile, safe(s.readFile))
	srv.Handle(jsoncomm.MethodWriteFile, safe(s.writeFile))
	srv.Handle(jsoncomm.MethodShutdown, safe(s.shutdownCall))
}

func (s *services) ping(context.Context, json.RawMessage, func(jsoncomm.Log)) (any, error) {
	return jsoncomm.Empty{}, nil
}

func (s *services) infoCall(context.Context, json.RawMessage, func(jsoncomm.Log)) (any, error) {
	return s.info, nil
}

func (s *services) readFile(_ context.Context, raw json.RawMessage, _ func(jsoncomm.Log)) (any, error) {
	var p jsoncomm.ReadFileParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	data, err := s.files.read(p.Path)
	if err != nil {
		return nil, err
	}
	return jsoncomm.FileData{Data: data}, nil
}

func (s *services) writeFile(_ context.Context, raw json.RawMessage, _ func(jsoncomm.Log)) (any, error) {
	var p jsoncomm.WriteFileParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	return jsoncomm.Empty{}, s.files.write(p.Path, p.Data, p.Mode)
}

// shutdownCall only asks for the shutdown; the agent's main loop does it
// once this call's reply has gone out.
func (s *services) shutdownCall(context.Context, json.RawMessage, func(jsoncomm.Log)) (any, error) {
	s.shutdown()
	return jsoncomm.Empty{}, nil
}

// decode reads params strictly: an unknown field is a host bug worth
// hearing about.
func decode(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decode params: %v: %w", err, jsoncomm.ErrInvalid)
	}
	return nil
}

// safe turns a panic in h into an internal error reply: a handler bug must
// not take the whole VM down with the calls of others in flight.
func safe(h jsoncomm.Handler) jsoncomm.Handler {
	return func(ctx context.Context, p json.RawMessage, log func(jsoncomm.Log)) (res any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("handler panic: %v\n%s: %w", r, debug.Stack(), jsoncomm.ErrInternal)
			}
		}()
		return h(ctx, p, log)
	}
}

// once returns a func that closes ch the first time it is called.
func once(ch chan struct{}) func() {
	var o sync.Once
	return func() { o.Do(func() { close(ch) }) }
}

func newInfo(kernel string, modules []string, shares []jsoncomm.Share) jsoncomm.Info {
	if modules == nil {
		modules = []string{}
	}
	return jsoncomm.Info{Arch: runtime.GOARCH, Kernel: kernel, Agent: Version, Modules: modules, Shares: shares}
}
