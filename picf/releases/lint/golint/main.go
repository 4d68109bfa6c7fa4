// Command picf-golint finds the 32-bit ARM hazards of picf's catalog in a Go tree, with Go's own type checker.
//
// It type-checks every package of the tree (module trees with go.mod and vendor/, GOPATH trees with src/ and
// nested vendor/ directories, or plain directories) for GOOS=linux and the target GOARCH, choosing files by
// build constraints as the compiler would, and lays structs out with the target's sizes (types.SizesFor). The
// standard library and each vendored package are type-checked once; packages are checked in parallel, in
// dependency order. Imports it cannot resolve are tolerated: their types are unknown, and a finding depends on
// them only when such a type really sits before the field in the layout.
//
// It reports, as JSON on stdout, what its passes find (one file each, a loader in load.go, fixtures under
// testdata/src/<pass>):
//   - atomicalign.go (atomic64): a 64-bit sync/atomic function called on a field that is not 8-byte aligned;
//   - timespec.go (timespec): a typed 64-bit value put into a syscall.Timespec/Timeval field of 32 bits;
//   - statfs.go (statfs): Statfs_t.Type (32 bits on 32-bit ARM) compared with a 64-bit value, or sign-extended;
//   - uidmapscan.go (sscanf): fmt.Sscanf and friends into an int or int32 in a package reading uid_map/gid_map.
//
// Python (picf/releases/lint/go_findings.py) maps the findings to catalog patches and renders them.
//
// The standard library comes from the compiler's export data for the target (`go list -export std` with
// GOARCH set, which Go caches), read with the gc importer: the compiler's own view, at import speed.
//
// Usage: picf-golint -root DIR -goarch arm -std EXPORTS.txt [-overlay FILE.json]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/build"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Finding is one hazard, in terms Python maps to a catalog patch.
type Finding struct {
	Kind    string `json:"kind"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Call    string `json:"call,omitempty"`
	Verdict string `json:"verdict,omitempty"` // atomic64: misaligned | unproven
	Struct  string `json:"struct,omitempty"`  // the struct that holds the field, as declared
	Field   string `json:"field,omitempty"`   // the field path from that struct, e.g. delta or stats.count
	Offset  *int64 `json:"offset,omitempty"`
	Unknown string `json:"unknown,omitempty"` // atomic64 unproven: the type the layout depends on
	Detail  string `json:"detail,omitempty"`
	// Where the struct is declared and where its fields are, so the align64 transform can move them.
	StructFile  string       `json:"struct_file,omitempty"`
	StructLines [2]int       `json:"struct_lines,omitempty"`
	Fields      []FieldLines `json:"fields,omitempty"`
	Lift        string       `json:"lift,omitempty"` // the field of Struct to move first (the chain's first hop)
}

// FieldLines is one field declaration of a struct: its names and the lines it spans.
type FieldLines struct {
	Names []string `json:"names"`
	First int      `json:"first"`
	Last  int      `json:"last"`
}

// Report is the whole answer.
type Report struct {
	GoVersion string    `json:"go_version"`
	GoArch    string    `json:"goarch"`
	Packages  int       `json:"packages"`
	Files     int       `json:"files"`
	Findings  []Finding `json:"findings"`
	Missing   []string  `json:"missing_imports"`
}

func main() {
	root := flag.String("root", ".", "the tree to check")
	goarch := flag.String("goarch", "arm", "target GOARCH")
	overlayFile := flag.String("overlay", "", "JSON {file: replacement file} (files read in place of others)")
	stdFile := flag.String("std", "", "`go list -export -f '{{.ImportPath}} {{.Export}}' std` for the target")
	flag.Parse()
	report, err := run(*root, *goarch, *overlayFile, *stdFile, analyzers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "picf-golint:", err)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", " ")
	if err := out.Encode(report); err != nil {
		os.Exit(2)
	}
}

func run(root, goarch, overlayFile, stdFile string, passes []*Analyzer) (*Report, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	l := &loader{root: abs, fset: token.NewFileSet(), byDir: map[string]*pkgInfo{}, missing: map[string]*types.Package{}}
	l.overlay = map[string]string{}
	if overlayFile != "" {
		data, err := os.ReadFile(overlayFile)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &l.overlay); err != nil {
			return nil, fmt.Errorf("%s: %v", overlayFile, err)
		}
	}
	l.ctx = build.Default
	l.ctx.GOOS, l.ctx.GOARCH, l.ctx.CgoEnabled = "linux", goarch, false
	l.ctx.OpenFile = func(path string) (io.ReadCloser, error) { return os.Open(l.source(path)) }
	exports, err := readExports(stdFile)
	if err != nil {
		return nil, err
	}
	lookup := func(path string) (io.ReadCloser, error) {
		if file, ok := exports[path]; ok && file != "" {
			return os.Open(file)
		}
		return nil, fmt.Errorf("no export data for %s", path)
	}
	l.stdExports = exports
	l.std = importer.ForCompiler(l.fset, "gc", lookup).(types.ImporterFrom)
	l.sizes = alignedSizes{types.SizesFor("gc", goarch)}
	if err := l.discover(); err != nil {
		return nil, err
	}
	l.checkAll()
	report := &Report{GoVersion: runtime.Version(), GoArch: goarch, Findings: []Finding{}, Missing: []string{}}
	for _, p := range l.byDir {
		if p.types == nil {
			continue
		}
		report.Packages++
		report.Files += len(p.files)
		report.Findings = append(report.Findings, l.run(p, passes)...)
	}
	for path := range l.missing {
		report.Missing = append(report.Missing, path)
	}
	sort.Strings(report.Missing)
	sort.SliceStable(report.Findings, func(i, j int) bool {
		a, b := report.Findings[i], report.Findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Kind < b.Kind
	})
	return report, nil
}

func readExports(file string) (map[string]string, error) {
	exports := map[string]string{}
	if file == "" {
		return exports, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) == 2 {
			exports[fields[0]] = fields[1]
		}
	}
	return exports, nil
}

// String is the finding in one line, as the passes' fixtures state it (`// want "..."`), e.g.
// `atomic64 misaligned: atomic.AddInt64 on Counter.n at offset 4`.
func (f Finding) String() string {
	s := f.Kind
	if f.Verdict != "" {
		s += " " + f.Verdict
	}
	s += ":"
	if f.Call != "" {
		s += " " + f.Call + " on"
	}
	if what := strings.Trim(f.Struct+"."+f.Field, "."); what != "" {
		s += " " + what
	}
	if f.Offset != nil {
		s += fmt.Sprintf(" at offset %d", *f.Offset)
	}
	if f.Unknown != "" {
		s += ", which depends on " + f.Unknown
	}
	if f.Detail != "" {
		s += " (" + f.Detail + ")"
	}
	return s
}
