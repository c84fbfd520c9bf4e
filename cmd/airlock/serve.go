package main

import (
	"context"
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
	sec := e.secretFlags(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || (*cert == "") != (*key == "") {
		return usagef("serve: want [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]")
	}
	ws, ks, done, err := e.unlocked(workspace.Coordinator, sec)
	if err != nil {
		return err
	}
	defer done()
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	srv, err := serve.New(serve.Config{Coord: e.coordinator(ws), Identity: ks.Identity, Log: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = serve.ListenAndServe(ctx, srv, serve.Listen{Addr: *listen, CertFile: *cert, KeyFile: *key, Log: log})
	if err != nil {
		return withHint(err, "is another process listening there? pass --listen HOST:PORT")
	}
	return nil
}
