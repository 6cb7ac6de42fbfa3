package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestESSetupPrint(t *testing.T) {
	var out, errb bytes.Buffer
	if err := runESSetup(context.Background(), &out, &errb, esSetupFlags{print: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "PUT _index_template/lanner-alerts\n") || !strings.Contains(out.String(), `"logs-lanner.alerts-*"`) {
		t.Fatalf("output: %s", out.String())
	}
}

func TestESSetupBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key": "elasticsearch:\n  adresses: [\"http://x:9200\"]\n",
		"bad mode":    "elasticsearch:\n  mode: alias\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
			os.WriteFile(path, []byte(body), 0o600)
			err := runESSetup(context.Background(), &bytes.Buffer{}, &bytes.Buffer{}, esSetupFlags{config: path, print: true})
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v: want a usage error (exit 2)", err)
			}
		})
	}
}
