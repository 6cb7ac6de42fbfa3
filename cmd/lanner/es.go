package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

type esSetupFlags struct {
	config    string
	addresses []string
	print     bool
	timeout   time.Duration
}

func newESCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "es",
		Short: "Elasticsearch administration",
	}
	c.AddCommand(newESSetupCmd())
	return c
}

func newESSetupCmd() *cobra.Command {
	var fl esSetupFlags
	c := &cobra.Command{
		Use:   "setup",
		Short: "Install lanner's index template (and ILM policy where the cluster has ILM)",
		Long: `Install the composable index template with lanner's ECS mappings for the alerts data stream
(or dated indices), and, where the cluster has ILM, the lifecycle policy. A cluster without ILM
(the local development node) is detected and the policy skipped. Safe to run again: it replaces
lanner's own template and policy with the current ones.

--config reads a YAML file holding an elasticsearch: block (docs/outputs/elasticsearch.md).`,
		Example: `  lanner es setup
  lanner es setup --config output.yaml
  lanner es setup --address https://es.example:9200 --print`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runESSetup(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), fl)
		},
	}
	c.Flags().StringVar(&fl.config, "config", "", "YAML file with an elasticsearch: block")
	c.Flags().StringArrayVar(&fl.addresses, "address", nil, "Elasticsearch URL (repeatable; overrides the file)")
	c.Flags().BoolVar(&fl.print, "print", false, "print the index template and exit without contacting the cluster")
	c.Flags().DurationVar(&fl.timeout, "timeout", time.Minute, "give up after this long")
	return c
}

// loadESConfig reads the elasticsearch: block of a `lanner run` configuration file (a file
// holding only that block is one), strictly, so that es setup and the collector read the same
// file the same way.
func loadESConfig(path string) (elasticsearch.Config, error) {
	if path == "" {
		return elasticsearch.Config{}, nil
	}
	cfg, err := readRunConfigFile(path)
	if err != nil {
		return elasticsearch.Config{}, err
	}
	return cfg.Elasticsearch.Config, nil
}

// readRunConfigFile reads a `lanner run` configuration file strictly, without its flags, for the
// commands that connect where the collector ships (es setup, audit verify). Errors are usage
// errors naming FILE:LINE.
func readRunConfigFile(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("%s: %v", path, err)}
	}
	cfg := config.Default()
	if _, err := config.Parse(path, data, &cfg, nil); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	return &cfg, nil
}

func runESSetup(ctx context.Context, stdout, stderr io.Writer, fl esSetupFlags) error {
	cfg, err := loadESConfig(fl.config)
	if err != nil {
		return err
	}
	if len(fl.addresses) > 0 {
		cfg.Addresses = fl.addresses
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return &usageError{msg: err.Error()}
	}
	if fl.print {
		b, err := elasticsearch.TemplateBody(cfg, false)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "PUT _index_template/%s\n%s\n", cfg.TemplateName, b)
		return nil
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := elasticsearch.New(cfg, logger, nil)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	defer s.Close()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, fl.timeout)
	defer cancel()
	res, err := s.Setup(ctx)
	if err != nil {
		return fmt.Errorf("es setup: %w", err)
	}
	fmt.Fprintf(stdout, "index template %s installed for %s\n", res.Template, cfg.IndexPatternForDocs())
	if res.ILM != "" {
		fmt.Fprintf(stdout, "ILM policy %s installed\n", res.ILM)
	} else if res.ILMSkipped != "" {
		fmt.Fprintf(stdout, "no ILM policy: the cluster has no ILM (%s)\n", res.ILMSkipped)
	}
	return nil
}
