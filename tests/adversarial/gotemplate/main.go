// Command gotemplate is the test oracle for alertplane's template_queries module: it parses
// templates with Go's own text/template/parse (Prometheus' template functions declared) and
// prints, per template, the parse error or every use of the `query` function, classified the
// way template_queries.py classifies it. Input: a JSON array of strings on stdin.
package main

import (
	"encoding/json"
	"os"
	"text/template/parse"
)

type call struct {
	Literal *string `json:"literal"`
}

type result struct {
	Error string `json:"error,omitempty"`
	Calls []call `json:"calls"`
}

var funcs = map[string]any{}

func init() {
	names := []string{"query", "first", "label", "value", "strvalue", "args", "reReplaceAll",
		"safeHtml", "match", "title", "toUpper", "toLower", "graphLink", "tableLink",
		"sortByLabel", "humanize", "humanize1024", "humanizeDuration", "humanizePercentage",
		"humanizeTimestamp", "toTime", "pathPrefix", "externalURL",
		// Go's builtins (text/template declares them itself; parse.Parse needs them named).
		"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
		"println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"}
	for _, n := range names {
		funcs[n] = func() {}
	}
}

func walk(n parse.Node, out *[]call) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, out)
		}
	case *parse.ActionNode:
		walk(n.Pipe, out)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, out)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, out)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, out)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			walk(n.Pipe, out)
		}
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for k, cmd := range n.Cmds {
			for j, arg := range cmd.Args {
				switch a := arg.(type) {
				case *parse.PipeNode:
					walk(a, out)
				case *parse.ChainNode:
					if id, ok := a.Node.(*parse.IdentifierNode); ok && id.Ident == "query" {
						*out = append(*out, call{})
					} else {
						walk(a.Node, out)
					}
				case *parse.IdentifierNode:
					if a.Ident != "query" {
						continue
					}
					s, isString := (parse.Node)(nil), false
					if len(cmd.Args) == 2 {
						s = cmd.Args[1]
						_, isString = s.(*parse.StringNode)
					}
					if j == 0 && k == 0 && isString {
						text := s.(*parse.StringNode).Text
						*out = append(*out, call{Literal: &text})
					} else {
						*out = append(*out, call{})
					}
				}
			}
		}
	}
}

func walkBranch(b *parse.BranchNode, out *[]call) {
	walk(b.Pipe, out)
	walk(b.List, out)
	if b.ElseList != nil {
		walk(b.ElseList, out)
	}
}

func main() {
	var texts []string
	if err := json.NewDecoder(os.Stdin).Decode(&texts); err != nil {
		panic(err)
	}
	results := make([]result, len(texts))
	for i, text := range texts {
		trees, err := parse.Parse("__alert_oracle", text, "", "", funcs)
		results[i].Calls = []call{}
		if err != nil {
			results[i].Error = err.Error()
			continue
		}
		// Walk the main tree first, then the defined ones: textual order is compared as a
		// multiset by the tests.
		for _, tree := range trees {
			walk(tree.Root, &results[i].Calls)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		panic(err)
	}
}
