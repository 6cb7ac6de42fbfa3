// Package syslog is the syslog output: every alert sent as an RFC 5424 message whose severity is
// the alert's priority (Falco's priorities are syslog's severities, emergency 0 to debug 7) and
// whose body is Falco's JSON alert, over a unix socket (the local syslog daemon's /dev/log),
// UDP, or TCP with RFC 6587 octet-counting framing.
package syslog
