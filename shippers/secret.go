package shippers

import "log/slog"

// Secret holds a credential (password, API key, token). It prints, logs and marshals as
// "<secret>" so that a configuration dump or a debug log never carries it; Reveal returns the
// value for the one place that sends it.
type Secret string

const redacted = "<secret>"

// Reveal returns the credential itself.
func (s Secret) Reveal() string { return string(s) }

// String returns "<secret>" (or "" when empty, so a missing credential is visible).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// LogValue keeps the credential out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML writes "<secret>" instead of the credential.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON writes "<secret>" instead of the credential.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }
