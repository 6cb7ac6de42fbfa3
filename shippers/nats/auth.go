package nats

import (
	natsgo "github.com/nats-io/nats.go"

	"github.com/lannersec/lanner/shippers"
)

// Auth is how a NATS client proves who it is and checks the servers: the output's connection
// and the responder's subscription (collector/respond) share it, inline in their configuration.
type Auth struct {
	CredsFile  string          `yaml:"creds_file" desc:"NATS credentials file (JWT and nkey seed)."`
	Token      shippers.Secret `yaml:"token" desc:"Authentication token."`
	User       string          `yaml:"user" desc:"User name (with password)."`
	Password   shippers.Secret `yaml:"password" desc:"Password of user."`
	CACert     string          `yaml:"ca_cert" desc:"PEM file of the CA of the servers' certificates."`
	ClientCert string          `yaml:"client_cert" desc:"PEM client certificate for mutual TLS (with client_key)."`
	ClientKey  string          `yaml:"client_key" desc:"PEM key of client_cert."`
}

// Options returns the nats.go options of a: the credentials file, else the token, else user and
// password; the CA file and the client certificate when set.
func (a Auth) Options() []natsgo.Option {
	var opts []natsgo.Option
	switch {
	case a.CredsFile != "":
		opts = append(opts, natsgo.UserCredentials(a.CredsFile))
	case a.Token != "":
		opts = append(opts, natsgo.Token(a.Token.Reveal()))
	case a.User != "":
		opts = append(opts, natsgo.UserInfo(a.User, a.Password.Reveal()))
	}
	if a.CACert != "" {
		opts = append(opts, natsgo.RootCAs(a.CACert))
	}
	if a.ClientCert != "" {
		opts = append(opts, natsgo.ClientCert(a.ClientCert, a.ClientKey))
	}
	return opts
}
