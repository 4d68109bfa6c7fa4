package main

// The loader: it finds the packages of a tree (module trees with go.mod and vendor/, GOPATH trees with src/
// and nested vendor/ directories, or plain directories), says what each import means, and type-checks every
// package for linux and the target GOARCH, in dependency order and in parallel. Imports it cannot resolve are
// tolerated: their types are unknown, and a pass that depends on them says so.

import (
	"errors"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

type pkgInfo struct {
	dir        string
	importPath string
	files      []string
	imports    map[string]string // import path as written -> resolved dir ("" for std, "-" for missing)
	done       chan struct{}
	types      *types.Package
	info       *types.Info
	syntax     []*ast.File
}

type loader struct {
	root       string
	ctx        build.Context
	fset       *token.FileSet
	sizes      types.Sizes
	overlay    map[string]string
	byDir      map[string]*pkgInfo
	stdMu      sync.Mutex
	std        types.ImporterFrom
	stdExports map[string]string
	missMu     sync.Mutex
	missing    map[string]*types.Package
	prefix     string // the import path of root when neither go.mod nor src/ says it
	tree       Tree
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
					l.tree.decls.Store(obj, n)
				}
			case *ast.StructType:
				for _, field := range n.Fields.List {
					for _, name := range field.Names {
						if v, ok := p.info.Defs[name].(*types.Var); ok {
							l.tree.fields.Store(v, field.Type)
						}
					}
					if len(field.Names) == 0 { // embedded
						if sel, ok := field.Type.(*ast.Ident); ok {
							if v, ok := p.info.Defs[sel].(*types.Var); ok {
								l.tree.fields.Store(v, field.Type)
							}
						}
					}
				}
			}
			return true
		})
	}
}

func readSource(l *loader, file string) interface{} {
	data, err := os.ReadFile(l.source(file))
	if err != nil {
		return nil
	}
	return data
}

// rel is where pos is, relative to the tree (a file of the overlay named as the file it stands for).
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
