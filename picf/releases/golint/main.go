// Command picf-golint finds the 32-bit ARM hazards of picf's catalog in a Go tree, with Go's own type checker.
//
// It type-checks every package of the tree (module trees with go.mod and vendor/, GOPATH trees with src/ and
// nested vendor/ directories, or plain directories) for GOOS=linux and the target GOARCH, choosing files by
// build constraints as the compiler would, and lays structs out with the target's sizes (types.SizesFor). The
// standard library and each vendored package are type-checked once; packages are checked in parallel, in
// dependency order. Imports it cannot resolve are tolerated: their types are unknown, and a finding depends on
// them only when such a type really sits before the field in the layout.
//
// It reports, as JSON on stdout:
//   - atomic64: a 64-bit sync/atomic function called on a field that is not 8-byte aligned (or whose
//     alignment depends on an unknown type or a type parameter), through receivers, parameters, locals,
//     embedded and nested structs, array and slice elements;
//   - timespec: a typed 64-bit value put into a syscall.Timespec/Timeval field that is 32 bits on the target;
//   - statfs: Statfs_t.Type (32 bits on 32-bit ARM) compared with a 64-bit value, or sign-extended by int64();
//   - sscanf: fmt.Sscanf and friends scanning into an int or int32 in a package that reads uid_map/gid_map.
//
// Python (picf/releases/lint.py) maps the findings to catalog patches and renders them.
//
// The standard library comes from the compiler's export data for the target (`go list -export std` with
// GOARCH set, which Go caches), read with the gc importer: the compiler's own view, at import speed.
//
// Usage: picf-golint -root DIR -goarch arm -std EXPORTS.txt [-overlay FILE.json]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
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

type pkgInfo struct {
	dir        string
	importPath string
	files      []string
	imports    map[string]string // import path as written -> resolved dir ("" for std, "-" for missing)
	done       chan struct{}
	types      *types.Package
	info       *types.Info
	syntax     []*ast.File
	mentions   bool // a string literal names uid_map or gid_map
}

type loader struct {
	root         string
	ctx          build.Context
	fset         *token.FileSet
	sizes        types.Sizes
	overlay      map[string]string
	byDir        map[string]*pkgInfo
	stdMu        sync.Mutex
	std          types.ImporterFrom
	stdExports   map[string]string
	missMu       sync.Mutex
	missing      map[string]*types.Package
	prefix       string   // the import path of root when neither go.mod nor src/ says it
	fieldAST     sync.Map // *types.Var (a struct field) -> ast.Expr of its type
	declOf       sync.Map // *types.TypeName -> *ast.TypeSpec
	unknownCache sync.Map // types.Type -> what makes its size unknown ("" known)
}

func main() {
	root := flag.String("root", ".", "the tree to check")
	goarch := flag.String("goarch", "arm", "target GOARCH")
	overlayFile := flag.String("overlay", "", "JSON {file: replacement file} (files read in place of others)")
	stdFile := flag.String("std", "", "`go list -export -f '{{.ImportPath}} {{.Export}}' std` for the target")
	flag.Parse()
	report, err := run(*root, *goarch, *overlayFile, *stdFile)
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

func run(root, goarch, overlayFile, stdFile string) (*Report, error) {
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
		report.Findings = append(report.Findings, l.analyze(p)...)
	}
	for path := range l.missing {
		report.Missing = append(report.Missing, path)
	}
	sort.Strings(report.Missing)
	sort.Slice(report.Findings, func(i, j int) bool {
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

func (l *loader) source(path string) string {
	if replacement, ok := l.overlay[path]; ok {
		return replacement
	}
	return path
}

// --- finding the packages and what their imports mean -------------------------------------------------

func skipDir(name string) bool {
	return name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

func (l *loader) discover() error {
	err := filepath.WalkDir(l.root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != l.root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			bp, err := l.ctx.ImportDir(path, 0)
			if err != nil && !isNoGo(err) {
				return nil // a broken directory: nothing to check there
			}
			if bp != nil && len(bp.GoFiles) > 0 {
				p := &pkgInfo{dir: path, done: make(chan struct{})}
				for _, f := range bp.GoFiles {
					p.files = append(p.files, filepath.Join(path, f))
				}
				l.byDir[path] = p
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range l.byDir {
		p.imports = map[string]string{}
		for _, file := range p.files {
			f, err := parser.ParseFile(l.fset, l.source(file), nil, parser.ImportsOnly)
			if err != nil {
				continue
			}
			for _, spec := range f.Imports {
				p.imports[strings.Trim(spec.Path.Value, "`\"")] = ""
			}
		}
	}
	l.prefix = l.inferPrefix()
	for _, p := range l.byDir {
		p.importPath = l.importPathOf(p.dir)
	}
	for _, p := range l.byDir {
		for path := range p.imports {
			p.imports[path] = l.resolve(path, p.dir)
		}
	}
	return nil
}

func isNoGo(err error) bool {
	var noGo *build.NoGoError
	return errors.As(err, &noGo)
}

// module is the go.mod that governs dir (within the tree): its directory and module path.
func (l *loader) module(dir string) (string, string) {
	for d := dir; strings.HasPrefix(d, l.root); d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				fields := strings.Fields(line)
				if len(fields) >= 2 && fields[0] == "module" {
					return d, strings.Trim(fields[1], "\"")
				}
			}
		}
		if d == l.root {
			break
		}
	}
	return "", ""
}

func (l *loader) importPathOf(dir string) string {
	// Inside a vendor directory the path below it is the import path, in either mode.
	if i := strings.LastIndex(dir+"/", "/vendor/"); i >= 0 && strings.HasPrefix(dir, l.root) && i >= len(l.root) {
		return strings.TrimPrefix(dir[i+len("/vendor"):], "/")
	}
	if modDir, modPath := l.module(dir); modDir != "" {
		rel, _ := filepath.Rel(modDir, dir)
		return joinPath(modPath, rel)
	}
	if i := strings.LastIndex(dir+"/", "/src/"); i >= 0 && i >= len(l.root)-len("/src") {
		return strings.TrimPrefix(dir[i+len("/src"):], "/")
	}
	rel, _ := filepath.Rel(l.root, dir)
	return joinPath(l.prefix, rel)
}

func joinPath(prefix, rel string) string {
	rel = filepath.ToSlash(rel)
	switch {
	case rel == "." || rel == "":
		return prefix
	case prefix == "":
		return rel
	}
	return prefix + "/" + rel
}

// inferPrefix guesses the import path of a plain checkout from its own imports: a package that imports
// "code.cloudfoundry.org/grootfs/store" while the tree has store/ says the tree is code.cloudfoundry.org/grootfs.
func (l *loader) inferPrefix() string {
	votes := map[string]int{}
	for _, p := range l.byDir {
		for path := range p.imports {
			parts := strings.Split(path, "/")
			for i := len(parts) - 1; i >= 1; i-- {
				rel := filepath.Join(parts[i:]...)
				if q, ok := l.byDir[filepath.Join(l.root, rel)]; ok && !strings.Contains(q.dir, "/vendor/") {
					votes[strings.Join(parts[:i], "/")]++
					break
				}
			}
		}
	}
	best, most := "", 0
	for prefix, n := range votes {
		if n > most || (n == most && prefix < best) {
			best, most = prefix, n
		}
	}
	return best
}

func (l *loader) isStd(path string) bool {
	if _, ok := l.stdExports[path]; ok {
		return true
	}
	first := strings.SplitN(path, "/", 2)[0]
	if strings.Contains(first, ".") {
		return false
	}
	_, err := os.Stat(filepath.Join(l.ctx.GOROOT, "src", path))
	return err == nil
}

// resolve says which directory of the tree an import from `from` means ("" standard library, "-" missing).
func (l *loader) resolve(path, from string) string {
	if path == "C" || path == "unsafe" {
		return ""
	}
	if l.isStd(path) {
		return ""
	}
	// vendor/ directories, innermost first (GOPATH's rule; a module's vendor/ is the outermost of them).
	for d := from; strings.HasPrefix(d, l.root); d = filepath.Dir(d) {
		if p, ok := l.byDir[filepath.Join(d, "vendor", filepath.FromSlash(path))]; ok {
			return p.dir
		}
		if d == l.root {
			break
		}
	}
	for _, p := range l.byDir {
		if p.importPath == path && !strings.Contains(strings.TrimPrefix(p.dir, l.root), "/vendor/") {
			return p.dir
		}
	}
	return "-"
}

// --- type-checking, in dependency order and in parallel ---------------------------------------------------

func (l *loader) checkAll() {
	workers := runtime.NumCPU()
	queue := make(chan *pkgInfo)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range queue {
				l.check(p)
				close(p.done)
			}
		}()
	}
	// Schedule a package once every tree package it imports is done (import cycles are errors: broken).
	started := map[*pkgInfo]bool{}
	var order []*pkgInfo
	var visit func(p *pkgInfo, stack map[*pkgInfo]bool)
	visit = func(p *pkgInfo, stack map[*pkgInfo]bool) {
		if started[p] || stack[p] {
			return
		}
		stack[p] = true
		for _, dir := range p.imports {
			if q, ok := l.byDir[dir]; ok {
				visit(q, stack)
			}
		}
		delete(stack, p)
		started[p] = true
		order = append(order, p)
	}
	dirs := make([]string, 0, len(l.byDir))
	for dir := range l.byDir {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		visit(l.byDir[dir], map[*pkgInfo]bool{})
	}
	go func() {
		for _, p := range order {
			for _, dir := range p.imports {
				if q, ok := l.byDir[dir]; ok && q != p {
					<-q.done
				}
			}
			queue <- p
		}
		close(queue)
	}()
	wg.Wait()
}

type treeImporter struct {
	l    *loader
	from *pkgInfo
}

func (t treeImporter) Import(path string) (*types.Package, error) { return t.ImportFrom(path, "", 0) }

func (t treeImporter) ImportFrom(path, dir string, mode types.ImportMode) (*types.Package, error) {
	l := t.l
	switch resolved := t.from.imports[path]; {
	case path == "unsafe":
		return types.Unsafe, nil
	case resolved == "":
		l.stdMu.Lock()
		defer l.stdMu.Unlock()
		if pkg, err := l.std.ImportFrom(path, t.from.dir, 0); err == nil {
			return pkg, nil
		}
		return l.missingPackage(path), nil
	case resolved == "-":
		return l.missingPackage(path), nil
	default:
		if q := l.byDir[resolved]; q.types != nil {
			return q.types, nil
		}
		return l.missingPackage(path), nil
	}
}

// missingPackage stands in for an import that is not in the tree: an empty package, so every name used from
// it is unknown (an invalid type), and the rest of the file is still checked.
func (l *loader) missingPackage(path string) *types.Package {
	l.missMu.Lock()
	defer l.missMu.Unlock()
	if pkg, ok := l.missing[path]; ok {
		return pkg
	}
	name := filepath.Base(path)
	if i := strings.Index(name, ".v"); i > 0 {
		name = name[:i]
	}
	name = strings.TrimPrefix(strings.TrimPrefix(name, "go-"), "go.")
	name = strings.Map(func(r rune) rune {
		if r == '-' || r == '.' {
			return -1
		}
		return r
	}, name)
	pkg := types.NewPackage(path, name)
	pkg.MarkComplete()
	l.missing[path] = pkg
	return pkg
}

func (l *loader) check(p *pkgInfo) {
	for _, file := range p.files {
		f, err := parser.ParseFile(l.fset, file, readSource(l, file), parser.ParseComments)
		if err != nil && f == nil {
			continue
		}
		p.syntax = append(p.syntax, f)
	}
	if len(p.syntax) == 0 {
		return
	}
	p.info = &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Defs:       map[*ast.Ident]types.Object{},
		Uses:       map[*ast.Ident]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
	}
	conf := types.Config{
		Importer:         treeImporter{l, p},
		Sizes:            l.sizes,
		Error:            func(error) {}, // keep going: unknown imports, or the very hazards we look for
		FakeImportC:      true,
		IgnoreFuncBodies: false,
	}
	pkg, _ := conf.Check(p.importPath, l.fset, p.syntax, p.info)
	p.types = pkg
	for _, f := range p.syntax {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.TypeSpec:
				if obj, ok := p.info.Defs[n.Name].(*types.TypeName); ok {
					l.declOf.Store(obj, n)
				}
			case *ast.StructType:
				for _, field := range n.Fields.List {
					for _, name := range field.Names {
						if v, ok := p.info.Defs[name].(*types.Var); ok {
							l.fieldAST.Store(v, field.Type)
						}
					}
					if len(field.Names) == 0 { // embedded
						if sel, ok := field.Type.(*ast.Ident); ok {
							if v, ok := p.info.Defs[sel].(*types.Var); ok {
								l.fieldAST.Store(v, field.Type)
							}
						}
					}
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING && (strings.Contains(n.Value, "uid_map") || strings.Contains(n.Value, "gid_map")) {
					p.mentions = true
				}
			}
			return true
		})
	}
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

func readSource(l *loader, file string) interface{} {
	data, err := os.ReadFile(l.source(file))
	if err != nil {
		return nil
	}
	return data
}

// alignedSizes is the target's sizes, but knowing what the compiler knows about sync/atomic's Int64 and
// Uint64 (Go 1.19): their `align64` field makes them 8-byte aligned even on 32-bit targets.
type alignedSizes struct{ types.Sizes }

func isAlign64(t types.Type) bool {
	named, ok := t.(*types.Named)
	return ok && named.Obj().Name() == "align64" && named.Obj().Pkg() != nil &&
		(named.Obj().Pkg().Path() == "sync/atomic" || named.Obj().Pkg().Path() == "runtime/internal/atomic")
}

func (s alignedSizes) Alignof(t types.Type) int64 {
	if isAlign64(t) {
		return 8
	}
	if st, ok := t.Underlying().(*types.Struct); ok {
		max := int64(1)
		for i := 0; i < st.NumFields(); i++ {
			if a := s.Alignof(st.Field(i).Type()); a > max {
				max = a
			}
		}
		return max
	}
	if arr, ok := t.Underlying().(*types.Array); ok {
		return s.Alignof(arr.Elem())
	}
	return s.Sizes.Alignof(t)
}

func (s alignedSizes) Offsetsof(fields []*types.Var) []int64 {
	offsets := make([]int64, len(fields))
	var o int64
	for i, f := range fields {
		a := s.Alignof(f.Type())
		o = (o + a - 1) / a * a
		offsets[i] = o
		o += s.Sizeof(f.Type())
	}
	return offsets
}

func (s alignedSizes) Sizeof(t types.Type) int64 {
	if isAlign64(t) {
		return 0
	}
	switch u := t.Underlying().(type) {
	case *types.Struct:
		n := u.NumFields()
		if n == 0 {
			return 0
		}
		fields := make([]*types.Var, n)
		for i := range fields {
			fields[i] = u.Field(i)
		}
		offsets := s.Offsetsof(fields)
		size := offsets[n-1] + s.Sizeof(fields[n-1].Type())
		a := s.Alignof(t)
		return (size + a - 1) / a * a
	case *types.Array:
		if u.Len() == 0 {
			return 0
		}
		elem := s.Sizeof(u.Elem())
		a := s.Alignof(u.Elem())
		return (elem+a-1)/a*a*(u.Len()-1) + elem
	}
	return s.Sizes.Sizeof(t)
}

// --- the checks ----------------------------------------------------------------------------------------

var atomic64 = map[string]bool{
	"AddInt64": true, "AddUint64": true, "LoadInt64": true, "LoadUint64": true, "StoreInt64": true,
	"StoreUint64": true, "SwapInt64": true, "SwapUint64": true, "CompareAndSwapInt64": true,
	"CompareAndSwapUint64": true,
}

var scanners = map[string]bool{"Sscanf": true, "Sscan": true, "Sscanln": true, "Fscanf": true, "Fscan": true, "Fscanln": true}

func (l *loader) rel(pos token.Pos) (string, int) {
	position := l.fset.Position(pos)
	file := position.Filename
	for original, replacement := range l.overlay {
		if replacement == file {
			file = original
		}
	}
	rel, err := filepath.Rel(l.root, file)
	if err != nil {
		rel = file
	}
	return filepath.ToSlash(rel), position.Line
}

func calledFunc(info *types.Info, call *ast.CallExpr, pkgPath string) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	ident, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	if name, ok := info.Uses[ident].(*types.PkgName); ok && name.Imported().Path() == pkgPath {
		return sel.Sel.Name
	}
	return ""
}

func (l *loader) analyze(p *pkgInfo) []Finding {
	var out []Finding
	word := l.sizes.Sizeof(types.Typ[types.Int])
	for _, f := range p.syntax {
		careful := map[ast.Node]bool{} // functions that check the width of Statfs_t.Type themselves
		ast.Inspect(f, func(n ast.Node) bool {
			if fn, ok := n.(*ast.FuncDecl); ok && fn.Body != nil && l.checksWidth(p, fn.Body) {
				careful[fn.Body] = true
			}
			return true
		})
		var bodies []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				return true
			}
			if fn, ok := n.(*ast.FuncDecl); ok && fn.Body != nil {
				bodies = append(bodies, fn.Body)
			}
			switch n := n.(type) {
			case *ast.CallExpr:
				if name := calledFunc(p.info, n, "sync/atomic"); atomic64[name] && len(n.Args) > 0 && word == 4 {
					if found := l.atomicFinding(p, n, "atomic."+name); found != nil {
						out = append(out, *found)
					}
				}
				if name := calledFunc(p.info, n, "fmt"); scanners[name] && p.mentions && word == 4 {
					out = append(out, l.scanFindings(p, n, "fmt."+name)...)
				}
				if !l.insideCareful(n, bodies, careful) {
					out = append(out, l.signExtension(p, n)...)
				}
			case *ast.CompositeLit:
				out = append(out, l.timespecFindings(p, n)...)
			case *ast.AssignStmt:
				out = append(out, l.timespecAssign(p, n)...)
			case *ast.BinaryExpr:
				out = append(out, l.statfsCompare(p, n)...)
			}
			return true
		})
	}
	return out
}

// hop is one step from an allocated struct to the atomic field: the struct, the field and its offset there.
type hop struct {
	owner  *types.Named
	st     *types.Struct
	field  int
	offset int64
}

// layout is where the atomic word sits in the memory it belongs to (an allocated struct, array or variable).
type layout struct {
	offset   int64
	known    bool
	unknown  string
	path     []string
	hops     []hop
	arrayVar bool // an element of an array or slice indexed by a variable: the element size must be aligned
}

func (l *loader) atomicFinding(p *pkgInfo, call *ast.CallExpr, name string) *Finding {
	arg := unparen(call.Args[0])
	unary, ok := arg.(*ast.UnaryExpr)
	if !ok || unary.Op != token.AND {
		return nil // a pointer passed in: its allocation decides, not this call
	}
	lay := l.locate(p, unparen(unary.X))
	if lay == nil || (lay.known && lay.offset%8 == 0) {
		return nil
	}
	file, line := l.rel(call.Pos())
	finding := &Finding{Kind: "atomic64", File: file, Line: line, Call: name, Field: strings.Join(lay.path, ".")}
	if len(lay.hops) > 0 {
		// The struct to change: the innermost one where the field is not at a multiple of 8 (moving it to the
		// top there makes it 0), or where the unknown type sits.
		chosen := lay.hops[len(lay.hops)-1]
		for _, h := range lay.hops {
			if h.offset%8 != 0 {
				chosen = h
			}
		}
		finding.Struct = typeName(chosen.owner, chosen.st)
		finding.Lift = chosen.st.Field(chosen.field).Name()
		l.describeStruct(finding, chosen.owner)
		for i, h := range lay.hops {
			if h == chosen {
				finding.Field = strings.Join(lay.path[len(lay.path)-len(lay.hops)+i:], ".")
			}
		}
	}
	if lay.arrayVar {
		finding.Detail = "an element of an array or slice whose element size is not a multiple of 8"
	}
	if lay.known {
		finding.Verdict = "misaligned"
		offset := lay.offset
		finding.Offset = &offset
	} else {
		finding.Verdict = "unproven"
		finding.Unknown = lay.unknown
	}
	return finding
}

func typeName(owner *types.Named, st *types.Struct) string {
	if owner != nil {
		return owner.Obj().Name()
	}
	return "struct{...}"
}

func (l *loader) describeStruct(f *Finding, owner *types.Named) {
	if owner == nil {
		return
	}
	spec, ok := l.declOf.Load(owner.Obj())
	if !ok {
		return
	}
	ts := spec.(*ast.TypeSpec)
	st, ok := ts.Type.(*ast.StructType)
	if !ok {
		return
	}
	f.StructFile, f.StructLines[0] = l.rel(st.Fields.Opening)
	_, f.StructLines[1] = l.rel(st.Fields.Closing)
	for _, field := range st.Fields.List {
		first := field.Pos()
		if field.Doc != nil {
			first = field.Doc.Pos()
		}
		last := field.End()
		if field.Comment != nil {
			last = field.Comment.End()
		}
		names := []string{}
		for _, n := range field.Names {
			names = append(names, n.Name)
		}
		if len(names) == 0 {
			names = append(names, types.ExprString(field.Type))
		}
		_, a := l.rel(first)
		_, b := l.rel(last)
		f.Fields = append(f.Fields, FieldLines{Names: names, First: a, Last: b})
	}
}

// locate finds where the 64-bit word `expr` (the operand of &) sits within its allocation.
func (l *loader) locate(p *pkgInfo, expr ast.Expr) *layout {
	switch e := expr.(type) {
	case *ast.Ident, *ast.StarExpr:
		return &layout{offset: 0, known: true} // a variable (it escapes: allocated) or what a pointer points to
	case *ast.ParenExpr:
		return l.locate(p, e.X)
	case *ast.IndexExpr:
		base := p.info.Types[e.X].Type
		if base == nil {
			return nil
		}
		var elem types.Type
		inPlace := false // an array value inside something else: its offset there counts
		switch u := base.Underlying().(type) {
		case *types.Slice:
			elem = u.Elem()
		case *types.Array:
			elem, inPlace = u.Elem(), true
		case *types.Pointer:
			if arr, ok := u.Elem().Underlying().(*types.Array); ok {
				elem = arr.Elem()
			}
		}
		if elem == nil {
			return nil
		}
		lay := &layout{offset: 0, known: true}
		if inPlace {
			if outer := l.locate(p, e.X); outer != nil {
				lay = outer
			}
		}
		size := l.sizes.Sizeof(elem)
		if tv := p.info.Types[e.Index]; tv.Value != nil {
			if i, ok := constant.Int64Val(tv.Value); ok {
				lay.offset += i * size
				return lay
			}
		}
		if size%8 != 0 && lay.known {
			lay.offset += size // element 1 of a variable index: the first that is misaligned
		}
		lay.arrayVar = true
		return lay
	case *ast.SelectorExpr:
		sel := p.info.Selections[e]
		if sel == nil || sel.Kind() != types.FieldVal {
			return &layout{offset: 0, known: true} // a package-level variable
		}
		recv := sel.Recv()
		lay := &layout{offset: 0, known: true}
		if _, isPtr := recv.Underlying().(*types.Pointer); !isPtr {
			if outer := l.locate(p, e.X); outer != nil {
				lay = outer // a struct value inside something else: its offset there counts
			}
		} // else through a pointer: a struct of its own allocation, 8-byte aligned
		t := recv
		for step, index := range sel.Index() {
			if ptr, ok := t.Underlying().(*types.Pointer); ok {
				t = ptr.Elem()
				if step > 0 { // an embedded pointer: what it points to is allocated on its own
					lay = &layout{offset: 0, known: lay.known, unknown: lay.unknown, path: lay.path}
				}
			}
			st, ok := t.Underlying().(*types.Struct)
			if !ok {
				return nil
			}
			offset, known, unknown := l.fieldOffset(st, index)
			owner, _ := t.(*types.Named)
			lay.hops = append(lay.hops, hop{owner: owner, st: st, field: index, offset: offset})
			lay.path = append(lay.path, st.Field(index).Name())
			if !known && lay.known {
				lay.known, lay.unknown = false, unknown
			}
			lay.offset += offset
			t = st.Field(index).Type()
		}
		return lay
	}
	return nil
}

// fieldOffset is field i's offset in st, or why it cannot be known: a field before it of a type from outside
// the tree (unresolved), or of a type parameter. What comes after the field never matters.
func (l *loader) fieldOffset(st *types.Struct, i int) (int64, bool, string) {
	fields := make([]*types.Var, st.NumFields())
	for k := range fields {
		fields[k] = st.Field(k)
	}
	for k := 0; k < i; k++ {
		if what := l.unknownIn(fields[k]); what != "" {
			return 0, false, what
		}
	}
	return l.sizes.Offsetsof(fields[:i+1])[i], true, ""
}

// unknownIn names what makes a field's size unknown: an unresolved type, or a type parameter.
func (l *loader) unknownIn(v *types.Var) string {
	found := l.unknownType(v.Type(), map[types.Type]bool{})
	if found == "?" {
		if expr, ok := l.fieldAST.Load(v); ok {
			return types.ExprString(expr.(ast.Expr))
		}
		return "a type outside the tree"
	}
	return found
}

// unknownType is "" when t's size is known, "?" when it holds an unresolved type, or the name of what makes
// it unknown (a named type that holds one, a type parameter). Memoized: layouts nest deeply.
func (l *loader) unknownType(t types.Type, seen map[types.Type]bool) string {
	if cached, ok := l.unknownCache.Load(t); ok {
		return cached.(string)
	}
	if seen[t] {
		return ""
	}
	seen[t] = true
	found := ""
	switch u := t.(type) {
	case *types.Basic:
		if u.Kind() == types.Invalid {
			found = "?"
		}
	case *types.TypeParam:
		found = "type parameter " + u.Obj().Name()
	case *types.Named:
		if inner := l.unknownType(u.Underlying(), seen); inner != "" {
			found = inner
			if inner == "?" {
				found = u.Obj().Name()
			}
		}
	case *types.Struct:
		for k := 0; k < u.NumFields() && found == ""; k++ {
			found = l.unknownType(u.Field(k).Type(), seen)
		}
	case *types.Array:
		found = l.unknownType(u.Elem(), seen)
	}
	l.unknownCache.Store(t, found)
	return found
}

func (l *loader) scanFindings(p *pkgInfo, call *ast.CallExpr, name string) []Finding {
	var out []Finding
	for _, arg := range call.Args {
		unary, ok := unparen(arg).(*ast.UnaryExpr)
		if !ok || unary.Op != token.AND {
			continue
		}
		t := p.info.Types[unary.X].Type
		if t == nil {
			continue
		}
		if b, ok := t.Underlying().(*types.Basic); ok && (b.Kind() == types.Int || b.Kind() == types.Int32) {
			file, line := l.rel(call.Pos())
			out = append(out, Finding{Kind: "sscanf", File: file, Line: line, Call: name,
				Field: types.ExprString(unary.X), Detail: b.Name()})
			break
		}
	}
	return out
}

func isNamed(t types.Type, names ...string) string {
	named, ok := t.(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return ""
	}
	full := named.Obj().Pkg().Path() + "." + named.Obj().Name()
	for _, n := range names {
		if full == n {
			return full
		}
	}
	return ""
}

var timeTypes = []string{"syscall.Timespec", "syscall.Timeval", "golang.org/x/sys/unix.Timespec", "golang.org/x/sys/unix.Timeval"}
var statfsTypes = []string{"syscall.Statfs_t", "golang.org/x/sys/unix.Statfs_t"}

func is64(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && (b.Kind() == types.Int64 || b.Kind() == types.Uint64) && b.Info()&types.IsUntyped == 0
}

func is32(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && (b.Kind() == types.Int32 || b.Kind() == types.Uint32)
}

func (l *loader) timespecFindings(p *pkgInfo, lit *ast.CompositeLit) []Finding {
	t := p.info.Types[lit].Type
	if t == nil {
		return nil
	}
	owner := isNamed(t, timeTypes...)
	st, ok := t.Underlying().(*types.Struct)
	if owner == "" || !ok {
		return nil
	}
	var out []Finding
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key, ok := kv.Key.(*ast.Ident)
		if !ok {
			continue
		}
		for i := 0; i < st.NumFields(); i++ {
			field := st.Field(i)
			value := p.info.Types[kv.Value].Type
			if field.Name() == key.Name && is32(field.Type()) && value != nil && is64(value) {
				file, line := l.rel(kv.Pos())
				out = append(out, Finding{Kind: "timespec", File: file, Line: line, Struct: owner, Field: key.Name,
					Detail: types.ExprString(kv.Value) + " is " + value.String()})
			}
		}
	}
	return out
}

func (l *loader) timespecAssign(p *pkgInfo, assign *ast.AssignStmt) []Finding {
	var out []Finding
	for i, lhs := range assign.Lhs {
		if i >= len(assign.Rhs) {
			break
		}
		sel, ok := lhs.(*ast.SelectorExpr)
		if !ok {
			continue
		}
		selection := p.info.Selections[sel]
		if selection == nil || selection.Kind() != types.FieldVal {
			continue
		}
		recv := selection.Recv()
		if ptr, ok := recv.Underlying().(*types.Pointer); ok {
			recv = ptr.Elem()
		}
		owner := isNamed(recv, timeTypes...)
		value := p.info.Types[assign.Rhs[i]].Type
		if owner != "" && is32(selection.Obj().Type()) && value != nil && is64(value) {
			file, line := l.rel(assign.Pos())
			out = append(out, Finding{Kind: "timespec", File: file, Line: line, Struct: owner, Field: sel.Sel.Name,
				Detail: types.ExprString(assign.Rhs[i]) + " is " + value.String()})
		}
	}
	return out
}

// statfsType says whether expr is Statfs_t's Type field, 32 bits wide on this target.
func statfsType(info *types.Info, expr ast.Expr) bool {
	sel, ok := unparen(expr).(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Type" {
		return false
	}
	selection := info.Selections[sel]
	if selection == nil || selection.Kind() != types.FieldVal {
		return false
	}
	recv := selection.Recv()
	if ptr, ok := recv.Underlying().(*types.Pointer); ok {
		recv = ptr.Elem()
	}
	return isNamed(recv, statfsTypes...) != "" && is32(selection.Obj().Type())
}

func (l *loader) statfsCompare(p *pkgInfo, bin *ast.BinaryExpr) []Finding {
	switch bin.Op {
	case token.EQL, token.NEQ, token.LSS, token.GTR, token.LEQ, token.GEQ:
	default:
		return nil
	}
	for _, pair := range [][2]ast.Expr{{bin.X, bin.Y}, {bin.Y, bin.X}} {
		other := p.info.Types[pair[1]].Type
		if statfsType(p.info, pair[0]) && other != nil && is64(other) {
			file, line := l.rel(bin.Pos())
			return []Finding{{Kind: "statfs", File: file, Line: line, Verdict: "int64-compare",
				Field: types.ExprString(pair[0]), Detail: types.ExprString(pair[1]) + " is " + other.String()}}
		}
	}
	return nil
}

// checksWidth: the function asks unsafe.Sizeof(x.Type) and so handles the 4-byte field itself (as careful
// code converts through uint32 on 32-bit targets only).
func (l *loader) checksWidth(p *pkgInfo, body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if ok && len(call.Args) == 1 && statfsType(p.info, call.Args[0]) {
			if b, ok := p.info.Uses[calleeIdent(call.Fun)].(*types.Builtin); ok && b.Name() == "Sizeof" {
				found = true
			}
		}
		return !found
	})
	return found
}

// calleeIdent: the identifier a call names (f or pkg.f).
func calleeIdent(fun ast.Expr) *ast.Ident {
	switch fun := unparen(fun).(type) {
	case *ast.Ident:
		return fun
	case *ast.SelectorExpr:
		return fun.Sel
	}
	return nil
}

func (l *loader) insideCareful(n ast.Node, bodies []ast.Node, careful map[ast.Node]bool) bool {
	for _, b := range bodies {
		if careful[b] && b.Pos() <= n.Pos() && n.End() <= b.End() {
			return true
		}
	}
	return false
}

// signExtension: int64(statfs.Type) turns a magic number above 2^31 (Btrfs 0x9123683E) negative on 32 bits.
func (l *loader) signExtension(p *pkgInfo, call *ast.CallExpr) []Finding {
	if len(call.Args) != 1 || !statfsType(p.info, call.Args[0]) {
		return nil
	}
	tv := p.info.Types[call.Fun]
	if !tv.IsType() || !is64(tv.Type) {
		return nil
	}
	if b, ok := tv.Type.Underlying().(*types.Basic); ok && b.Kind() == types.Int64 {
		file, line := l.rel(call.Pos())
		return []Finding{{Kind: "statfs", File: file, Line: line, Verdict: "sign-extend",
			Field: types.ExprString(call.Args[0]), Detail: types.ExprString(call)}}
	}
	return nil
}
