// Command execsize is the test oracle for alertplane's template_limits module: it executes
// templates with Go's own text/template and the size-relevant template functions of
// Prometheus 2.42 and Alertmanager 0.25 (same code), over labels of a given size, and prints
// how many bytes each wrote. Output beyond a cap stops the execution and is reported as
// -1: the bound the module proves must never be that large. Input on stdin:
// {"labelSize": N, "texts": [...]}.
package main

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"text/template"
)

const outputCap = 64 << 20

var errCap = errors.New("output cap")

type capped struct{ n int }

func (w *capped) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n > outputCap {
		return 0, errCap
	}
	return len(p), nil
}

type input struct {
	LabelSize int      `json:"labelSize"`
	Texts     []string `json:"texts"`
}

var funcs = template.FuncMap{
	"reReplaceAll": func(pattern, repl, text string) string {
		return regexp.MustCompile(pattern).ReplaceAllString(text, repl)
	},
	"toUpper":  strings.ToUpper,
	"toLower":  strings.ToLower,
	"title":    strings.Title, //nolint:staticcheck // what Prometheus and Alertmanager call
	"safeHtml": func(s string) string { return s },
	"match":    regexp.MatchString,
	"join":     func(sep string, s []string) string { return strings.Join(s, sep) },
	"stringSlice": func(s ...string) []string { return s },
	"args": func(args ...interface{}) map[string]interface{} {
		out := map[string]interface{}{}
		for i, a := range args {
			out["arg"+string(rune('0'+i))] = a
		}
		return out
	},
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	value := strings.Repeat("x", in.LabelSize)
	labels := map[string]string{"instance": value, "job": value, "a": value}
	data := map[string]interface{}{
		"Labels": labels, "Value": 1.5, "Values": []string{value, value},
		"Alerts": []map[string]interface{}{{"Labels": labels}, {"Labels": labels}},
	}
	sizes := make([]int, len(in.Texts))
	for i, text := range in.Texts {
		defs := "{{$labels := .Labels}}{{$value := .Value}}"
		t, err := template.New("t").Funcs(funcs).Option("missingkey=zero").Parse(defs + text)
		if err != nil {
			sizes[i] = -2
			continue
		}
		w := &capped{}
		err = t.Execute(w, data)
		switch {
		case errors.Is(err, errCap):
			sizes[i] = -1
		case err != nil:
			sizes[i] = -3
		default:
			sizes[i] = w.n
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(sizes); err != nil {
		panic(err)
	}
}
