module github.com/lannersec/lanner

go 1.26

require (
	github.com/aquasecurity/libbpfgo v0.8.0-libbpf-1.5
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

toolchain go1.26.8
