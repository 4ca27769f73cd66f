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

package flagdoc

import (
	"slices"
	"strings"
	"testing"
)

const help = `Usage of /tmp/go-build123/b001/exe/cmd:
  -api-qps float
    	Client-side CVM API calls per second (Tencent allows 10). (default 8)
  -credential-sources string
    	Where the credentials come from | in order. (default "env")
  -leader-elect
    	Enable leader election.
  -multi string
    	First line.
    	Second line. (default "a,b")
  -x	A one-letter flag.
`

func TestParse(t *testing.T) {
	got, err := Parse(help)
	if err != nil {
		t.Fatal(err)
	}
	want := []Flag{
		{Name: "api-qps", Type: "float", Default: "8", Usage: "Client-side CVM API calls per second (Tencent allows 10)."},
		{Name: "credential-sources", Type: "string", Default: `"env"`, Usage: "Where the credentials come from | in order."},
		{Name: "leader-elect", Usage: "Enable leader election."},
		{Name: "multi", Type: "string", Default: `"a,b"`, Usage: "First line.\nSecond line."},
		{Name: "x", Usage: "A one-letter flag."},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Parse =\n%q\nwant\n%q", got, want)
	}
	if _, err := Parse("Usage of x:\n"); err == nil {
		t.Error("no flags parsed without an error")
	}
	if _, err := Parse("something else\n"); err == nil {
		t.Error("an unexpected line parsed without an error")
	}
}

func TestTableAndSplice(t *testing.T) {
	flags, err := Parse(help)
	if err != nil {
		t.Fatal(err)
	}
	table := Table(flags)
	for _, row := range []string{
		"| `--api-qps` | float | `8` | Client-side CVM API calls per second (Tencent allows 10). |",
		"| `--credential-sources` | string | `\"env\"` | Where the credentials come from \\| in order. |",
		"| `--leader-elect` | bool | `false` | Enable leader election. |",
		"| `--x` | bool | `false` | A one-letter flag. |",
		"| `--multi` | string | `\"a,b\"` | First line. Second line. |",
	} {
		if !strings.Contains(table, row+"\n") {
			t.Errorf("table has no row %s:\n%s", row, table)
		}
	}
	doc := "# Title\n\n" + Begin + "\nold table\n" + End + "\n\nMore.\n"
	out, err := Splice(doc, table)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Title\n\n" + Begin + "\n" + table + End + "\n\nMore.\n"; out != want {
		t.Errorf("Splice =\n%s\nwant\n%s", out, want)
	}
	if section, err := Section(out); err != nil || section != table {
		t.Errorf("Section = %q, %v", section, err)
	}
	if _, err := Splice("# no markers\n", table); err == nil {
		t.Error("Splice without markers did not fail")
	}
}
