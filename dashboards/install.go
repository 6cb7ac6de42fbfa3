package dashboards

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/lannersec/lanner/shippers"
)

// InstallConfig says where and how to import the saved objects.
type InstallConfig struct {
	// KibanaURL is Kibana's base URL, with its base path if it has one
	// (https://kibana.example:5601, https://example/kibana).
	KibanaURL string
	// Space is the Kibana space to import into; "" or "default" is the default space.
	Space string
	// Username and Password authenticate with HTTP basic auth; APIKey (the base64 "id:key"
	// credential Kibana and Elasticsearch hand out) with an ApiKey header. At most one of the two.
	Username string
	Password shippers.Secret
	APIKey   shippers.Secret
	// CACertFile is a PEM file of CA certificates to trust for an https Kibana, in addition to
	// the system roots; InsecureSkipVerify trusts any certificate (testing only).
	CACertFile         string
	InsecureSkipVerify bool
	// Overwrite replaces objects that already exist with the same id (the query parameter
	// overwrite=true). Without it, Kibana reports those objects as conflicts.
	Overwrite bool
	// Timeout bounds the whole request; zero means DefaultInstallTimeout.
	Timeout time.Duration
}

// DefaultInstallTimeout bounds an import when InstallConfig.Timeout is zero.
const DefaultInstallTimeout = 2 * time.Minute

// spaceIDRe is Kibana's rule for space ids: lower-case letters, digits, '_' and '-'.
var spaceIDRe = regexp.MustCompile(`^[a-z0-9_-]+$`)

// maxResponse bounds how much of Kibana's answer is read.
const maxResponse = 8 << 20

// Installer imports saved objects into Kibana through its saved objects import API.
type Installer struct {
	cfg      InstallConfig
	endpoint *url.URL
	client   *http.Client
	log      *slog.Logger
}

// NewInstaller validates cfg and builds the HTTP client. logger nil means discard.
func NewInstaller(cfg InstallConfig, logger *slog.Logger) (*Installer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.KibanaURL == "" {
		return nil, errors.New("dashboards: no Kibana URL")
	}
	u, err := url.Parse(cfg.KibanaURL)
	if err != nil {
		return nil, fmt.Errorf("dashboards: Kibana URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dashboards: Kibana URL %q: want http(s)://host[:port][/base-path]", u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("dashboards: Kibana URL %q carries credentials: use the username/password or API key settings", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("dashboards: Kibana URL %q: no query or fragment expected", u.String())
	}
	if cfg.Space != "" && !spaceIDRe.MatchString(cfg.Space) {
		return nil, fmt.Errorf("dashboards: space %q: a space id has only lower-case letters, digits, '_' and '-'", cfg.Space)
	}
	switch {
	case cfg.APIKey != "" && (cfg.Username != "" || cfg.Password != ""):
		return nil, errors.New("dashboards: an API key and a username/password are exclusive")
	case cfg.Password != "" && cfg.Username == "":
		return nil, errors.New("dashboards: a password without a username")
	case cfg.Username != "" && cfg.Password == "":
		return nil, errors.New("dashboards: a username without a password")
	case cfg.CACertFile != "" && cfg.InsecureSkipVerify:
		return nil, errors.New("dashboards: a CA certificate and insecure-skip-verify are exclusive")
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("dashboards: negative timeout %v", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultInstallTimeout
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CACertFile != "" {
		pem, err := os.ReadFile(cfg.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("dashboards: CA certificate: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("dashboards: CA certificate %s: no PEM certificate in it", cfg.CACertFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg

	ep := *u
	ep.Path = strings.TrimRight(u.Path, "/")
	if cfg.Space != "" && cfg.Space != "default" {
		ep.Path += "/s/" + cfg.Space
	}
	ep.Path += "/api/saved_objects/_import"
	ep.RawPath = ""
	if cfg.Overwrite {
		ep.RawQuery = "overwrite=true"
	}
	return &Installer{cfg: cfg, endpoint: &ep, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}, log: logger}, nil
}

// Endpoint is the import URL the installer posts to.
func (in *Installer) Endpoint() string { return in.endpoint.String() }

// ImportResult is Kibana's answer to an import.
type ImportResult struct {
	Success        bool            `json:"success"`
	SuccessCount   int             `json:"successCount"`
	Errors         []ImportError   `json:"errors"`
	SuccessResults []ImportSuccess `json:"successResults"`
}

// ImportSuccess is one object Kibana imported.
type ImportSuccess struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	DestinationID string `json:"destinationId,omitempty"`
	Overwrite     bool   `json:"overwrite,omitempty"`
}

// ImportError is one object Kibana refused, and why.
type ImportError struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Title string `json:"title"`
	Meta  struct {
		Title string `json:"title"`
	} `json:"meta"`
	Error struct {
		// Type is conflict, ambiguous_conflict, missing_references, unsupported_type or unknown.
		Type       string `json:"type"`
		Message    string `json:"message"`
		StatusCode int    `json:"statusCode"`
		References []struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"references"`
	} `json:"error"`
}

// String describes the failure in one line.
func (e ImportError) String() string {
	title := e.Title
	if title == "" {
		title = e.Meta.Title
	}
	s := fmt.Sprintf("%s %s", e.Type, e.ID)
	if title != "" {
		s += fmt.Sprintf(" (%q)", title)
	}
	s += ": " + e.Error.Type
	switch {
	case len(e.Error.References) > 0:
		var refs []string
		for _, r := range e.Error.References {
			refs = append(refs, r.Type+" "+r.ID)
		}
		s += " (" + strings.Join(refs, ", ") + ")"
	case e.Error.Type == "conflict":
		s += " (the object exists: import with overwrite)"
	}
	if e.Error.Message != "" {
		s += ": " + e.Error.Message
	}
	return s
}

// ImportFailedError is returned when Kibana answered but did not import every object.
type ImportFailedError struct {
	Result ImportResult
}

func (e *ImportFailedError) Error() string {
	var lines []string
	for _, ie := range e.Result.Errors {
		lines = append(lines, ie.String())
	}
	return fmt.Sprintf("kibana imported %d objects, refused %d: %s", e.Result.SuccessCount, len(e.Result.Errors), strings.Join(lines, "; "))
}

// HTTPError is returned when Kibana refused the request itself (authentication, a missing
// space, a malformed file).
type HTTPError struct {
	StatusCode int
	// Message is Kibana's error message, or the start of the body when it is not Kibana's
	// JSON error.
	Message string
}

func (e *HTTPError) Error() string {
	hint := ""
	switch e.StatusCode {
	case http.StatusUnauthorized:
		hint = " (check the username/password or API key)"
	case http.StatusForbidden:
		hint = " (the user may not manage saved objects in this space)"
	case http.StatusNotFound:
		hint = " (no such space, or the URL is not Kibana's)"
	}
	return fmt.Sprintf("kibana answered %d %s%s: %s", e.StatusCode, http.StatusText(e.StatusCode), hint, e.Message)
}

// Install posts ndjson to Kibana's import API as the multipart file field Kibana expects and
// returns Kibana's result. It returns an *HTTPError when Kibana refused the request and an
// *ImportFailedError (with the result) when some objects were not imported.
func (in *Installer) Install(ctx context.Context, ndjson []byte) (ImportResult, error) {
	var res ImportResult
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+NDJSONFile+`"`)
	h.Set("Content-Type", "application/ndjson")
	part, err := mw.CreatePart(h)
	if err != nil {
		return res, fmt.Errorf("dashboards: build request: %w", err)
	}
	part.Write(ndjson)
	if err := mw.Close(); err != nil {
		return res, fmt.Errorf("dashboards: build request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint.String(), &body)
	if err != nil {
		return res, fmt.Errorf("dashboards: build request: %w", err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	// Kibana refuses state-changing API calls without kbn-xsrf (its CSRF guard).
	req.Header.Set("kbn-xsrf", "true")
	switch {
	case in.cfg.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+in.cfg.APIKey.Reveal())
	case in.cfg.Username != "":
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(in.cfg.Username+":"+in.cfg.Password.Reveal())))
	}
	space := in.cfg.Space
	if space == "" {
		space = "default"
	}
	in.log.Info("importing saved objects into Kibana", "url", in.endpoint.String(), "space", space,
		"bytes", len(ndjson), "overwrite", in.cfg.Overwrite)
	resp, err := in.client.Do(req)
	if err != nil {
		// url.Error repeats the method and URL; say them once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return res, fmt.Errorf("import into Kibana at %s: %w", in.endpoint.String(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return res, fmt.Errorf("dashboards: read Kibana's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var ke struct {
			Message string `json:"message"`
		}
		msg := ""
		if json.Unmarshal(b, &ke) == nil && ke.Message != "" {
			msg = ke.Message
		} else {
			msg = snippet(b)
		}
		return res, &HTTPError{StatusCode: resp.StatusCode, Message: msg}
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("dashboards: Kibana's answer is not an import result: %w: %s", err, snippet(b))
	}
	if !res.Success || len(res.Errors) > 0 {
		for _, e := range res.Errors {
			in.log.Error("kibana refused a saved object", "type", e.Type, "id", e.ID, "error", e.Error.Type, "message", e.Error.Message)
		}
		return res, &ImportFailedError{Result: res}
	}
	in.log.Info("imported saved objects", "space", space, "objects", res.SuccessCount)
	return res, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}
