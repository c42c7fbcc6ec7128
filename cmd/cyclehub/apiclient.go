package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/adminclient"
)

// envAPIURL names the admin API's address for admin commands.
const envAPIURL = "CYCLEHUB_API_URL"

// client builds the admin API client. The address is --api, else
// $CYCLEHUB_API_URL, else (with --config) the config's http.addr, else
// the dev default; the token is --token, else $CYCLEHUB_ADMIN_TOKEN, else
// (with --config) the config's admin.token.
func (g *globals) client() (*adminclient.Client, error) {
	api, token := g.api, g.token
	if api == "" {
		api, _ = g.env.lookupEnv(envAPIURL)
	}
	if token == "" {
		token, _ = g.env.lookupEnv(configs.EnvAdminToken)
	}
	if g.configSet && (api == "" || token == "") {
		cfg, err := configs.Load(g.config, g.env.lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("%s:\n%w", g.config, err)
		}
		if api == "" {
			api = listenURL(cfg.HTTP.Addr)
		}
		if token == "" {
			token = cfg.Admin.Token.Reveal()
		}
	}
	if token == "" {
		return nil, usagef("no admin token: set CYCLEHUB_ADMIN_TOKEN (the daemon's admin.token), pass --token, or --config FILE to read it from the config")
	}
	c, err := adminclient.New(adminclient.Config{BaseURL: api, Token: token, Timeout: g.timeout, UserAgent: "cyclehub-cli/" + version})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return c, nil
}

// listenURL turns a listen address into the URL a local client calls: a
// wildcard host (":8080", "0.0.0.0:8080") is reached on loopback.
func listenURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// interruptible is the context of an admin command: Ctrl-C cancels the
// call in flight.
func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

// hint adds what to check to an admin API error.
func hint(err error) error {
	var op *net.OpError
	var ae *adminclient.APIError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("%w\n(is the daemon running there? the address is --api, $CYCLEHUB_API_URL or, with --config, its http.addr)", err)
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return fmt.Errorf("%w\n(%s refused the token: it must be that daemon's admin.token; set CYCLEHUB_ADMIN_TOKEN or pass --token)", err, ae.BaseURL)
	case errors.Is(err, adminclient.ErrGone):
		return fmt.Errorf("%w\n(the customer was erased on request)", err)
	}
	return err
}
