package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/workspace"
)

// serve runs the coordinator as an HTTP service until SIGINT or SIGTERM.
func (e *env) serve(args []string) error {
	fs := e.flags("serve")
	listen := fs.String("listen", serve.DefaultAddr, "host:port to listen on")
	cert := fs.String("tls-cert", "", "serve TLS with this certificate (PEM)")
	key := fs.String("tls-key", "", "the certificate's private key (PEM)")
	database := fs.String("database", "", "the coordinator's store in PostgreSQL (postgres://…; default: state.db in the workspace)")
	var hooks multi
	fs.Var(&hooks, "webhook", "POST proposal events, signed, to this http(s) URL (repeat for each endpoint)")
	sec := e.secretFlags(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || (*cert == "") != (*key == "") {
		return usagef("serve: want [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]")
	}
	ws, err := e.openDatabase(*database)
	if err != nil {
		return err
	}
	defer ws.Close()
	ks, err := e.unlock(ws, sec)
	if err != nil {
		return err
	}
	defer ks.Close()
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	srv, err := serve.New(serve.Config{Coord: e.coordinator(ws), Identity: ks.Identity, Log: log, Webhooks: hooks})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Webhooks until the last request finished (their cursors kept).
	hctx, hcancel := context.WithCancel(context.Background())
	hdone := make(chan struct{})
	go func() { defer close(hdone); srv.Deliver(hctx) }()
	defer func() { hcancel(); <-hdone }()
	err = serve.ListenAndServe(ctx, srv, serve.Listen{Addr: *listen, CertFile: *cert, KeyFile: *key, Log: log})
	if err != nil {
		return withHint(err, "is another process listening there? pass --listen HOST:PORT")
	}
	return nil
}

// openDatabase opens the coordinator workspace, its store in database
// when one is named.
func (e *env) openDatabase(database string) (*workspace.Workspace, error) {
	if database == "" {
		return e.openRole(workspace.Coordinator)
	}
	o := e.wsOptions()
	o.Database = database
	ws, err := workspace.Open(e.dir, o)
	if err != nil {
		return nil, withHint(err, "is the database reachable, and does it hold this workspace's store?")
	}
	if e.clockSet && !ws.Config.Drill {
		ws.Close()
		return nil, errClockOverride()
	}
	if ws.Config.Role != workspace.Coordinator {
		ws.Close()
		return nil, withHint(fmt.Errorf("%s is a %s workspace; the service runs at a coordinator", e.dir, ws.Config.Role), "pass -C DIR for the coordinator's workspace")
	}
	return ws, nil
}
