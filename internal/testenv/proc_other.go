//go:build !linux

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

package testenv

// Without /proc (macOS, the BSDs) the process table comes from ps(1), which every Unix has
// (proc_ps.go).

func readStat(pid int) (procStat, error) { return psStat(pid) }

func listProcesses() ([]procStat, error) { return psList() }

func processArgs(pid int) ([]string, error) { return psArgs(pid) }
