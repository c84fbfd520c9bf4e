package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"

	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/workspace"
)

// serve runs the coordinator as an HTTP service until SIGINT or SIGTERM.
func (e *env) serve(args []string) error {
	fs := e.flags("serve")
	listen := fs.String("listen", serve.DefaultAddr, "host:port to listen on")
	cert := fs.String("tls-cert", "", "serve TLS with this certificate (PEM)")
	key := fs.String("tls-key", "", "the certificate's private key (PEM)")
	addrFile := fs.String("addr-file", "", "once listening, write the address (host:port) to this file: with --listen 127.0.0.1:0, how a script learns the port")
	database := fs.String("database", "", "the coordinator's store in PostgreSQL (postgres://…; default: $AIRLOCK_DATABASE, else state.db in the workspace)")
	rpcURL := fs.String("rpc", "", "the Bitcoin node finalized transactions are broadcast to, http(s)://user:pass@host:port (or $AIRLOCK_RPC)")
	rpcCert := fs.String("rpc-cert", "", "the node's TLS certificate (btcd's rpc.cert)")
	ethURL := fs.String("eth-rpc", "", "the Ethereum node finalized Safe transactions are executed through, http(s)://host[:port][/path] (or $AIRLOCK_ETH_RPC); with --executor-keystore")
	ex := addExecutorFlags(fs)
	maxFee := fs.String("max-fee-per-gas", "", "Safe: the most to pay per gas, in gwei; a base fee that needs more is refused")
	every := fs.Duration("expire-every", serve.DefaultExpireEvery, "how often the replica holding the lease expires proposals and checkpoints the log")
	noDash := fs.Bool("no-dashboard", false, "serve no web dashboard (the API, health and metrics only)")
	var dashHosts multi
	fs.Var(&dashHosts, "dashboard-host", "a host name the dashboard answers to over plain HTTP, besides IP addresses and localhost (repeatable)")
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
	// DIR/head behind the commits, so hand-ins do not each wait for its
	// fsyncs; written last at shutdown (workspace.WriteHeadsBehind).
	defer ws.WriteHeadsBehind()()
	ks, err := e.unlock(ws, sec)
	if err != nil {
		return err
	}
	defer ks.Close()
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	if *rpcURL == "" {
		*rpcURL = os.Getenv("AIRLOCK_RPC")
	}
	var node *coordinator.Node
	if *rpcURL != "" {
		node = &coordinator.Node{URL: *rpcURL, CAFile: *rpcCert}
	}
	if *ethURL == "" {
		*ethURL = os.Getenv("AIRLOCK_ETH_RPC")
	}
	var eth *coordinator.EthNode
	var executor coordinator.Executor
	switch {
	case ex.given() && *ethURL == "":
		return usagef("serve: the executor flags want --eth-rpc URL (or $AIRLOCK_ETH_RPC)")
	case ex.given():
		eth = &coordinator.EthNode{URL: *ethURL}
		if *maxFee != "" {
			wei, err := safe.ParseGwei(*maxFee)
			if err != nil {
				return usagef("serve: --max-fee-per-gas %q: %v", *maxFee, err)
			}
			eth.MaxFeePerGas = wei
		}
		var closeKey func()
		if executor, closeKey, err = e.openExecutor("serve", ex); err != nil {
			return err
		}
		defer closeKey()
	}
	if *every < time.Second {
		return usagef("serve: --expire-every wants at least 1s")
	}
	srv, err := serve.New(serve.Config{Coord: e.coordinator(ws), Identity: ks.Identity, Log: log, Node: node, ExpireEvery: *every, Webhooks: hooks, Ethereum: eth, Executor: executor,
		Dashboard: serve.Dashboard{Off: *noDash, Hosts: dashHosts}})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Expiry in the background, by the replica holding its lease; it
	// stops (and gives up its leases) after the last request finished.
	bctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Background(bctx) }()
	defer func() { cancel(); <-done }()
	// Webhooks until the last request finished (their cursors kept).
	hctx, hcancel := context.WithCancel(context.Background())
	hdone := make(chan struct{})
	go func() { defer close(hdone); srv.Deliver(hctx) }()
	defer func() { hcancel(); <-hdone }()
	var started func(net.Addr)
	if *addrFile != "" {
		started = func(a net.Addr) {
			if err := workspace.WriteFileAtomic(*addrFile, []byte(a.String()+"\n"), 0o644); err != nil {
				log.Error("writing --addr-file", "err", err)
			}
		}
	}
	err = serve.ListenAndServe(ctx, srv, serve.Listen{Addr: *listen, CertFile: *cert, KeyFile: *key, Log: log, Started: started})
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
