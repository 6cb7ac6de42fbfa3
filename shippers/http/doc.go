// Package http is the HTTP output: every alert POSTed to a URL as Falco's JSON alert, one alert
// per request, which is what Falco's http_output sends and what falcosidekick's / endpoint
// reads. A 2xx answer delivers the alert; 429, 5xx and connection failures are retried
// (honouring Retry-After); any other answer rejects it to the dead-letter file.
package http
