package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lannersec/lanner/dashboards"
	"github.com/lannersec/lanner/shippers"
)

// Environment variables the install flags fall back to, so that credentials need not appear
// on a command line (where ps and shell history see them).
const (
	envKibanaURL      = "LANNER_KIBANA_URL"
	envKibanaUsername = "LANNER_KIBANA_USERNAME"
	envKibanaPassword = "LANNER_KIBANA_PASSWORD"
	envKibanaAPIKey   = "LANNER_KIBANA_API_KEY"
)

type dashboardsInstallFlags struct {
	kibana, space, username, password, apiKey, caCert, file string
	insecure, overwrite                                     bool
	timeout                                                 time.Duration
}

func newDashboardsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "dashboards",
		Short: "Kibana dashboards for lanner's alerts (install, export)",
		Long: `lanner's Kibana saved objects: a data view over the alerts data stream and dated indices,
Lens visualizations, saved searches, and the "Runtime security overview" and "Kubernetes audit"
dashboards. They need Kibana 8.9 or newer (docs/dashboards.md).`,
	}
	c.AddCommand(newDashboardsInstallCmd(), newDashboardsExportCmd())
	return c
}

func newDashboardsInstallCmd() *cobra.Command {
	var fl dashboardsInstallFlags
	c := &cobra.Command{
		Use:   "install --kibana URL",
		Short: "Import the dashboards into Kibana through its saved objects API",
		Long: `Import lanner's saved objects into Kibana with the saved objects import API
(POST /api/saved_objects/_import, or /s/SPACE/api/... for a space). Objects keep their fixed ids,
so installing again replaces lanner's own objects in place (--overwrite, the default); copies
you saved under other ids are not touched.

Credentials: --username with --password, or --api-key (the base64 id:key value). Each flag
falls back to an environment variable (LANNER_KIBANA_URL, LANNER_KIBANA_USERNAME,
LANNER_KIBANA_PASSWORD, LANNER_KIBANA_API_KEY); prefer those for secrets.

Exit status: 0 when Kibana imported every object, 1 when Kibana refused the request or some
object (each is listed), 2 for a bad flag.`,
		Example: `  lanner dashboards install --kibana http://localhost:5601
  LANNER_KIBANA_PASSWORD=... lanner dashboards install --kibana https://kibana.example:5601 --username elastic --ca-cert ca.pem
  LANNER_KIBANA_API_KEY=... lanner dashboards install --kibana https://kibana.example --space security`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDashboardsInstall(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), fl, os.Getenv)
		},
	}
	f := c.Flags()
	f.StringVar(&fl.kibana, "kibana", "", "Kibana base URL, with its base path if any ($"+envKibanaURL+")")
	f.StringVar(&fl.space, "space", "", "Kibana space id (default: the default space)")
	f.StringVar(&fl.username, "username", "", "user for basic auth ($"+envKibanaUsername+")")
	f.StringVar(&fl.password, "password", "", "password for basic auth ($"+envKibanaPassword+", preferred)")
	f.StringVar(&fl.apiKey, "api-key", "", "API key, base64 id:key ($"+envKibanaAPIKey+", preferred)")
	f.StringVar(&fl.caCert, "ca-cert", "", "PEM file of CA certificates to trust for https")
	f.BoolVar(&fl.insecure, "insecure-skip-verify", false, "do not verify Kibana's certificate (testing only)")
	f.BoolVar(&fl.overwrite, "overwrite", true, "replace objects that already exist with the same id")
	f.StringVar(&fl.file, "file", "", "import this NDJSON file instead of lanner's built-in objects")
	f.DurationVar(&fl.timeout, "timeout", dashboards.DefaultInstallTimeout, "give up after this long")
	return c
}

func runDashboardsInstall(ctx context.Context, stdout, stderr io.Writer, fl dashboardsInstallFlags, getenv func(string) string) error {
	orEnv := func(v, key string) string {
		if v == "" {
			return getenv(key)
		}
		return v
	}
	cfg := dashboards.InstallConfig{
		KibanaURL:          orEnv(fl.kibana, envKibanaURL),
		Space:              fl.space,
		Username:           orEnv(fl.username, envKibanaUsername),
		Password:           shippers.Secret(orEnv(fl.password, envKibanaPassword)),
		APIKey:             shippers.Secret(orEnv(fl.apiKey, envKibanaAPIKey)),
		CACertFile:         fl.caCert,
		InsecureSkipVerify: fl.insecure,
		Overwrite:          fl.overwrite,
		Timeout:            fl.timeout,
	}
	if cfg.KibanaURL == "" {
		return &usageError{msg: "dashboards install: no Kibana URL: pass --kibana URL or set " + envKibanaURL}
	}
	if cfg.Timeout <= 0 {
		return &usageError{msg: fmt.Sprintf("dashboards install: --timeout %v: want a positive duration", cfg.Timeout)}
	}
	data := dashboards.NDJSON()
	if fl.file != "" {
		b, err := os.ReadFile(fl.file)
		if err != nil {
			return &usageError{msg: fmt.Sprintf("dashboards install: %v", err)}
		}
		data = b
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	in, err := dashboards.NewInstaller(cfg, logger)
	if err != nil {
		return &usageError{msg: "dashboards install: " + strings.TrimPrefix(err.Error(), "dashboards: ")}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := in.Install(ctx, data)
	if err != nil {
		return fmt.Errorf("dashboards install: %w", err)
	}
	space := cfg.Space
	if space == "" {
		space = "default"
	}
	fmt.Fprintf(stdout, "imported %d saved objects into Kibana space %s\n", res.SuccessCount, space)
	if fl.file == "" {
		base := strings.TrimRight(cfg.KibanaURL, "/")
		if space != "default" {
			base += "/s/" + space
		}
		for _, d := range dashboards.Lanner().Dashboards {
			fmt.Fprintf(stdout, "  %s: %s/app/dashboards#/view/%s\n", d.Title, base, d.ID)
		}
	}
	return nil
}

func newDashboardsExportCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export [--out FILE]",
		Short: "Write the saved objects as NDJSON (for Kibana's Saved Objects > Import)",
		Long: `Write lanner's Kibana saved objects as NDJSON, to standard output or to --out FILE. Kibana's
UI imports the file under Stack Management > Saved objects > Import (the name must end in .ndjson).`,
		Example: `  lanner dashboards export --out lanner.ndjson
  lanner dashboards export | jq -c 'select(.type == "dashboard") | .attributes.title'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDashboardsExport(cmd.OutOrStdout(), out)
		},
	}
	c.Flags().StringVarP(&out, "out", "o", "", "file to write (default: standard output)")
	return c
}

func runDashboardsExport(stdout io.Writer, out string) error {
	data := dashboards.NDJSON()
	if out == "" || out == "-" {
		if _, err := stdout.Write(data); err != nil {
			return fmt.Errorf("dashboards export: %w", err)
		}
		return nil
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return fmt.Errorf("dashboards export: %w", err)
	}
	return nil
}
