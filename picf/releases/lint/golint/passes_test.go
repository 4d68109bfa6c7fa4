package main

// Each pass on its fixtures, in the manner of golang.org/x/tools' analysistest (standard library only): a
// fixture is a small tree under testdata/src/<pass>, and each `// want "REGEXP"` comment (several allowed, in
// double or back quotes) states a finding that must be reported on its line, matched against the finding's
// String(). A line without one must have none.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestEachPassFindsExactlyWhatItsFixturesWant(t *testing.T) {
	std := stdExports(t, "arm")
	for _, a := range analyzers {
		a := a
		t.Run(a.Name, func(t *testing.T) {
			dir := filepath.Join("testdata", "src", a.Name)
			report, err := run(dir, "arm", "", std, []*Analyzer{a})
			if err != nil {
				t.Fatal(err)
			}
			if report.Packages == 0 {
				t.Fatalf("%s: no package checked", dir)
			}
			for _, problem := range compare(t, dir, report.Findings) {
				t.Error(problem)
			}
		})
	}
}

func TestA64BitTargetHasNoneOfTheHazards(t *testing.T) {
	std := stdExports(t, "arm64")
	for _, a := range analyzers {
		report, err := run(filepath.Join("testdata", "src", a.Name), "arm64", "", std, []*Analyzer{a})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range report.Findings {
			t.Errorf("%s:%d: arm64: unexpected %s", f.File, f.Line, f)
		}
	}
}

// stdExports is the standard library's export data for linux/goarch: picf's (PICF_GOLINT_STD_<GOARCH>, what
// gotypes.std_exports wrote) or else asked of `go list` (Go's build cache keeps it).
func stdExports(t *testing.T, goarch string) string {
	if file := os.Getenv("PICF_GOLINT_STD_" + strings.ToUpper(goarch)); file != "" {
		return file
	}
	cmd := exec.Command("go", "list", "-trimpath", "-export", "-f", "{{.ImportPath}} {{.Export}}", "std")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export std for %s: %v", goarch, err)
	}
	file := filepath.Join(t.TempDir(), "std.txt")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

var wantComment = regexp.MustCompile(`//\s*want\s+(.*)$`)

// wants reads the `// want` comments of the fixture's Go files: file:line -> the patterns for that line.
func wants(t *testing.T, dir string) map[string][]*regexp.Regexp {
	out := map[string][]*regexp.Regexp{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		for n, line := range strings.Split(string(data), "\n") {
			m := wantComment.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			rest := strings.TrimSpace(m[1])
			for rest != "" {
				quoted, err := strconv.QuotedPrefix(rest)
				if err != nil {
					return fmt.Errorf("%s:%d: want takes quoted patterns: %v", rel, n+1, err)
				}
				pattern, _ := strconv.Unquote(quoted)
				key := fmt.Sprintf("%s:%d", filepath.ToSlash(rel), n+1)
				out[key] = append(out[key], regexp.MustCompile(pattern))
				rest = strings.TrimSpace(rest[len(quoted):])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compare: every wanted pattern matched by a finding of its line, every finding wanted.
func compare(t *testing.T, dir string, findings []Finding) []string {
	expected := wants(t, dir)
	got := map[string][]string{}
	for _, f := range findings {
		key := fmt.Sprintf("%s:%d", f.File, f.Line)
		got[key] = append(got[key], f.String())
	}
	var problems []string
	for key, patterns := range expected {
		for _, p := range patterns {
			if !anyMatch(p, got[key]) {
				problems = append(problems, fmt.Sprintf("%s/%s: no finding matches %q (got %q)", dir, key, p, got[key]))
			}
		}
	}
	for key, texts := range got {
		for _, text := range texts {
			matched := false
			for _, p := range expected[key] {
				matched = matched || p.MatchString(text)
			}
			if !matched {
				problems = append(problems, fmt.Sprintf("%s/%s: unexpected finding %q", dir, key, text))
			}
		}
	}
	return problems
}

func anyMatch(p *regexp.Regexp, texts []string) bool {
	for _, text := range texts {
		if p.MatchString(text) {
			return true
		}
	}
	return false
}
