// Command render writes deploy/manifests/lanner.yaml: lanner's Helm chart rendered with its
// default values, for clusters installed without Helm. Run it from the repository root after
// changing the chart:
//
//	go run ./deploy/helm/render
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lannersec/lanner/deploy/helm"
)

func main() {
	chartDir := flag.String("chart", "deploy/helm/lanner", "chart directory")
	out := flag.String("out", "deploy/manifests/lanner.yaml", "file to write")
	name := flag.String("release", helm.DefaultRelease.Name, "release name")
	ns := flag.String("namespace", helm.DefaultRelease.Namespace, "namespace")
	flag.Parse()
	text, err := helm.PlainManifests(*chartDir, helm.Release{Name: *name, Namespace: *ns})
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s\n", *out)
}
