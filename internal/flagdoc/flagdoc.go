/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package flagdoc renders the manager's --help output as the Markdown table of flags in README.md,
// between the markers Begin and End. `make readme-flags` (hack/readme-flags) writes the table and
// a test in cmd/ fails when README.md differs from what the manager prints.
package flagdoc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Begin and End enclose the generated table in README.md.
const (
	Begin = "<!-- BEGIN MANAGER FLAGS: generated from `go run ./cmd --help` by `make readme-flags`; do not edit -->"
	End   = "<!-- END MANAGER FLAGS -->"
)

// Flag is one flag as the flag package's PrintDefaults describes it.
type Flag struct {
	// Name is the flag's name without dashes.
	Name string
	// Type is the value's type ("string", "int", "duration", ...); empty for a boolean flag.
	Type string
	// Default is the default value as printed (strings quoted); empty when it is the zero value.
	Default string
	// Usage is the flag's description, without the default.
	Usage string
}

// Help runs `go run ./cmd --help` in projectDir and returns what the manager prints (the flag
// package writes the usage to stderr and exits 0).
func Help(ctx context.Context, projectDir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd", "--help")
	cmd.Dir = projectDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go run ./cmd --help: %w\n%s", err, out.String())
	}
	return out.String(), nil
}

// Parse reads the flags from the output of a Go program's -help: a "Usage of" line, then per
// flag a line "  -name type" and its usage on lines indented by four spaces and a tab, the
// default at the end as "(default X)".
func Parse(help string) ([]Flag, error) {
	var flags []Flag
	for line := range strings.Lines(help) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "Usage of ") || strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "  -"):
			// A one-letter flag has its usage on the same line, after a tab.
			head, usage, _ := strings.Cut(line[3:], "\t")
			name, typ, _ := strings.Cut(head, " ")
			flags = append(flags, Flag{Name: name, Type: typ, Usage: usage})
		case strings.HasPrefix(line, "    \t") && len(flags) > 0:
			f := &flags[len(flags)-1]
			f.Usage = strings.TrimSpace(f.Usage + "\n" + strings.TrimPrefix(line, "    \t"))
		default:
			return nil, fmt.Errorf("parse --help: unexpected line %q", line)
		}
	}
	if len(flags) == 0 {
		return nil, errors.New("parse --help: no flags")
	}
	for i := range flags {
		f := &flags[i]
		if at := strings.LastIndex(f.Usage, " (default "); at >= 0 && strings.HasSuffix(f.Usage, ")") {
			f.Default = f.Usage[at+len(" (default ") : len(f.Usage)-1]
			f.Usage = f.Usage[:at]
		}
	}
	return flags, nil
}

// Table renders flags as a Markdown table, in the order given (the flag package sorts them).
func Table(flags []Flag) string {
	var b strings.Builder
	b.WriteString("| flag | value | default | what it does |\n|---|---|---|---|\n")
	for _, f := range flags {
		typ := f.Type
		if typ == "" {
			typ = "bool"
		}
		def := f.Default
		if def == "" {
			// PrintDefaults leaves out a zero default; say what it is.
			def = zeroDefaults[typ]
		}
		if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | %s | %s | %s |\n", f.Name, typ, def, cell(f.Usage))
	}
	return b.String()
}

// zeroDefaults are the zero values the flag package does not print, by the type it prints. A
// flag.Value ("value") has no known zero value.
var zeroDefaults = map[string]string{
	"bool": "false", "int": "0", "uint": "0", "int64": "0", "uint64": "0", "float": "0", "duration": "0s",
	"string": `""`,
}

// cell makes text fit in one table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// Section returns what README text doc holds between Begin and End.
func Section(doc string) (string, error) {
	_, rest, ok := strings.Cut(doc, Begin+"\n")
	if !ok {
		return "", fmt.Errorf("no line %q", Begin)
	}
	section, _, ok := strings.Cut(rest, End)
	if !ok {
		return "", fmt.Errorf("no %q after %q", End, Begin)
	}
	return section, nil
}

// Splice returns doc with table between Begin and End.
func Splice(doc, table string) (string, error) {
	old, err := Section(doc)
	if err != nil {
		return "", err
	}
	at := strings.Index(doc, Begin+"\n") + len(Begin) + 1
	return doc[:at] + table + doc[at+len(old):], nil
}
