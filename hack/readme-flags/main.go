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

// Command readme-flags writes the manager's flags, as `go run ./cmd --help` prints them, into the
// table between the flag markers of README.md (`make readme-flags`). Run it from the project
// directory; cmd/readme_test.go fails when the table is stale.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/imageshare/imageshare-operator/internal/flagdoc"
)

const readme = "README.md"

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "readme-flags: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	help, err := flagdoc.Help(context.Background(), ".")
	if err != nil {
		return err
	}
	flags, err := flagdoc.Parse(help)
	if err != nil {
		return err
	}
	doc, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	out, err := flagdoc.Splice(string(doc), flagdoc.Table(flags))
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	if out == string(doc) {
		fmt.Printf("%s: the flag table is up to date (%d flags)\n", readme, len(flags))
		return nil
	}
	if err := os.WriteFile(readme, []byte(out), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: wrote the flag table (%d flags)\n", readme, len(flags))
	return nil
}
