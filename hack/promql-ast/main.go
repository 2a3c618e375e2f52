// promql-ast: Prometheus' own PromQL parser (github.com/prometheus/prometheus/promql/parser)
// as a test oracle. Reads one JSON string (an expression) per line on stdin and prints one
// JSON line per input: {"ast": <tree>} or {"error": "<parser message>"}.
//
// The tree keeps what a rule's meaning depends on and drops source positions (an injected
// matcher shifts them), so two trees compare equal exactly when the expressions mean the
// same. Matchers are sorted: their order in the braces does not change the selection.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/prometheus/prometheus/promql/parser"
)

type obj = map[string]any

func conv(n parser.Node) any {
	switch e := n.(type) {
	case nil:
		return nil
	case *parser.AggregateExpr:
		if e == nil {
			return nil
		}
		return obj{"t": "aggregate", "op": e.Op.String(), "expr": conv(e.Expr), "param": convExpr(e.Param),
			"grouping": e.Grouping, "without": e.Without}
	case *parser.BinaryExpr:
		out := obj{"t": "binary", "op": e.Op.String(), "lhs": conv(e.LHS), "rhs": conv(e.RHS), "bool": e.ReturnBool}
		if m := e.VectorMatching; m != nil {
			out["matching"] = obj{"card": m.Card.String(), "labels": m.MatchingLabels, "on": m.On, "include": m.Include}
		}
		return out
	case *parser.Call:
		args := []any{}
		for _, a := range e.Args {
			args = append(args, conv(a))
		}
		return obj{"t": "call", "func": e.Func.Name, "args": args}
	case *parser.MatrixSelector:
		return obj{"t": "matrix", "selector": conv(e.VectorSelector), "range": e.Range.String()}
	case *parser.SubqueryExpr:
		return obj{"t": "subquery", "expr": conv(e.Expr), "range": e.Range.String(), "step": e.Step.String(),
			"offset": e.OriginalOffset.String(), "at": at(e.Timestamp, e.StartOrEnd)}
	case *parser.NumberLiteral:
		return obj{"t": "number", "value": strconv.FormatFloat(e.Val, 'g', -1, 64)}
	case *parser.StringLiteral:
		return obj{"t": "string", "value": e.Val}
	case *parser.ParenExpr:
		return obj{"t": "paren", "expr": conv(e.Expr)}
	case *parser.UnaryExpr:
		return obj{"t": "unary", "op": e.Op.String(), "expr": conv(e.Expr)}
	case *parser.VectorSelector:
		matchers := []string{}
		for _, m := range e.LabelMatchers {
			matchers = append(matchers, m.Name+m.Type.String()+strconv.Quote(m.Value))
		}
		sort.Strings(matchers)
		return obj{"t": "selector", "name": e.Name, "matchers": matchers,
			"offset": e.OriginalOffset.String(), "at": at(e.Timestamp, e.StartOrEnd)}
	default:
		panic(fmt.Sprintf("promql-ast: node type %T not handled; extend conv", n))
	}
}

func convExpr(e parser.Expr) any {
	if e == nil {
		return nil
	}
	return conv(e)
}

func at(ts *int64, startOrEnd parser.ItemType) any {
	if ts != nil {
		return strconv.FormatInt(*ts, 10)
	}
	if startOrEnd != 0 {
		return startOrEnd.String()
	}
	return nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		var expr string
		if err := json.Unmarshal(in.Bytes(), &expr); err != nil {
			fmt.Fprintln(os.Stderr, "promql-ast: each input line must be a JSON string:", err)
			os.Exit(2)
		}
		tree, err := parser.ParseExpr(expr)
		var line obj
		if err != nil {
			line = obj{"error": err.Error()}
		} else {
			line = obj{"ast": conv(tree)}
		}
		if err := enc.Encode(line); err != nil {
			panic(err)
		}
		out.Flush()
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "promql-ast:", err)
		os.Exit(2)
	}
}
