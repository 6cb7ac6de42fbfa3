// Package program is the program output: alerts piped as Falco JSON lines to the standard input
// of a command run by /bin/sh, like Falco's program_output with json_output on. With keep_alive
// one process takes every alert and is started again when it exits, no more often than
// restart_interval; without it a process is started for each batch.
package program
