package filter_test

import (
	"fmt"

	"github.com/lannersec/lanner/collector/engine/filter"
)

func ExampleParse() {
	n, err := filter.Parse(`evt.type=open and proc.name in (ash, bash) and not fd.name startswith "/tmp dir"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filter.String(n))
	_, err = filter.Parse("proc.name = a b")
	fmt.Println(err)
	// Output:
	// (evt.type = open and proc.name in (ash, bash) and not fd.name startswith "/tmp dir")
	// line 1 column 15: unexpected token after 'a', expecting 'or', 'and'
}

func ExampleResolveMacros() {
	macros := map[string]string{"shell_procs": "proc.name in (bash, sh)", "spawned_process": "evt.type in (execve, execveat)"}
	lookup := func(name string) (filter.Node, bool) {
		text, ok := macros[name]
		if !ok {
			return nil, false
		}
		n, err := filter.Parse(text)
		return n, err == nil
	}
	rule, _ := filter.Parse("spawned_process and shell_procs")
	n, err := filter.ResolveMacros(rule, lookup)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filter.String(n))
	// Output:
	// (evt.type in (execve, execveat) and proc.name in (bash, sh))
}
