package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Listen is where and how the service listens.
type Listen struct {
	// Addr is host:port (DefaultAddr when empty).
	Addr string
	// CertFile and KeyFile, both set, serve TLS.
	CertFile, KeyFile string
	Log               *slog.Logger
	// Started, when set, is told the address listened on (a port 0
	// resolved).
	Started func(net.Addr)
	// Grace bounds how long in-flight requests may finish at shutdown
	// (default 30s).
	Grace time.Duration
}

// DefaultAddr is loopback only: exposing the service is a decision.
const DefaultAddr = "127.0.0.1:8700"

// ListenAndServe serves h until ctx is done, then shuts down gracefully:
// no new connections, in-flight requests finish (up to Grace).
func ListenAndServe(ctx context.Context, h http.Handler, o Listen) error {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Grace <= 0 {
		o.Grace = 30 * time.Second
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("serve: TLS wants both a certificate and its key")
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn),
	}
	tls := o.CertFile != ""
	o.Log.Info("listening", "addr", ln.Addr().String(), "tls", tls)
	if o.Started != nil {
		o.Started(ln.Addr())
	}
	done := make(chan error, 1)
	go func() {
		if tls {
			done <- srv.ServeTLS(ln, o.CertFile, o.KeyFile)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	o.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.Grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	o.Log.Info("stopped")
	return nil
}
