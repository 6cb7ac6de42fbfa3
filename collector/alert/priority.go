package alert

import (
	"fmt"
	"strings"
)

// Priority is a rule's severity, with Falco's numbering: Emergency is 0 (most severe) and Debug 7.
type Priority int8

// Priorities, most severe first. Falco's "Alert" priority is PriorityAlert because Alert is the
// name of the alert type in this package.
const (
	Emergency Priority = iota
	PriorityAlert
	Critical
	Error
	Warning
	Notice
	Informational
	Debug
)

var priorityNames = [...]string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

// String returns the long name Falco prints in outputs ("Informational", never "Info").
func (p Priority) String() string {
	if p >= Emergency && p <= Debug {
		return priorityNames[p]
	}
	return fmt.Sprintf("Priority(%d)", int8(p))
}

// Valid reports whether p is one of the eight priorities.
func (p Priority) Valid() bool { return p >= Emergency && p <= Debug }

// ParsePriority accepts every Falco priority name and alias, in any case: emergency, alert,
// critical, error, warning, notice, informational (or info), debug.
func ParsePriority(s string) (Priority, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	if l == "info" {
		return Informational, nil
	}
	for i, n := range priorityNames {
		if strings.ToLower(n) == l {
			return Priority(i), nil
		}
	}
	return 0, fmt.Errorf("invalid priority %q: want one of emergency, alert, critical, error, warning, notice, informational (info), debug", s)
}

// AtLeast reports whether p is as severe as min or more (a smaller number is more severe).
func (p Priority) AtLeast(min Priority) bool { return p <= min }
