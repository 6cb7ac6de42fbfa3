// Package file is the file output: every alert appended to a file as one line of Falco's JSON
// alert, like Falco's file_output with json_output on. The file is reopened on request (Reopen,
// called by `lanner run` on SIGHUP) so that logrotate can move it away and the next alerts go
// to a new file of the same name.
package file
